"""`GradientAdapter`: what a gradient method may use on a torch or Keras model.

Gradients are taken with respect to :meth:`GradientAdapter.differentiable_input`. With a declared
:class:`xaihub.Preprocess` (the default included) that input is **the image in pixel scale**, at
the image's own size, and the preprocessing (resize, normalisation) runs inside the framework,
differentiably: attributions come back at the resolution of the image the user gave, and a
perturbation in that space (occlusion windows, superpixel masks, noise in pixel units) means what
it says. With a callable ``preprocess`` the input is the preprocessed model input, and maps are
resized back to the image (:meth:`GradientAdapter.to_image`).

Every method call happens inside :meth:`ModelAdapter.session` (the runner opens it): the model is
in eval mode and gets its mode back afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub.core.maps import resize_map
from xaihub.models.base import ModelAdapter

SCORE_KINDS = ("logit", "probability", "multilabel-logit")


class GradientAdapter(ModelAdapter):
    """A model whose scores can be differentiated (torch, Keras). The documented surface:

    - :attr:`input_space` — ``"pixels"`` or ``"model"`` (see the module docstring);
    - :meth:`differentiable_input` — the tensor to differentiate with respect to, for pixel images;
    - :meth:`scores` — differentiable raw class scores ``N×K`` of such a tensor (logits where the
      model has them, read before a final softmax where possible); counts forward passes;
      :meth:`score_model` — the framework model behind them (shares the user's layers);
    - :attr:`score_kind` — what :meth:`scores` returns (``"logit"``, ``"probability"``,
      ``"multilabel-logit"``), and :meth:`probabilities` — differentiable probabilities from them;
    - :meth:`layer` — a named layer, or the last convolution; :meth:`layer_scores` — that layer's
      differentiable feature map together with the scores;
    - :meth:`model_input` — the preprocessed model input (for methods defined on it, such as LRP);
    - :meth:`zero_input` — the input whose model input is all zeros (a baseline);
    - :meth:`channels_last` / :meth:`from_channels_last` — between tensors and channels-last numpy,
      and :meth:`to_image` — a map in input space brought to the image's pixels.
    """

    def gradient_problem(self, image: np.ndarray) -> str | None:
        """Why gradients of this model's scores cannot reach its input (for ``image``, ``H×W×3`` uint8), or
        ``None``; checked once per adapter by the default ``Explainer.check_model`` of gradient methods.
        The default: none known."""
        return None

    @property
    def input_space(self) -> str:
        """``"pixels"`` when the preprocessing is declared (gradients reach the image), else ``"model"``."""
        return "pixels" if self.options.declared is not None else "model"

    def differentiable_input(self, images: np.ndarray) -> Any:
        """``images`` (``N×H×W×3`` pixel scale) as a float tensor in :attr:`input_space` on the
        model's device, detached: torch ``N×C×H×W``, Keras ``N×H×W×C``."""
        raise NotImplementedError

    def scores(self, inputs: Any) -> Any:
        """Differentiable raw class scores ``N×K`` for ``inputs`` from :meth:`differentiable_input`."""
        raise NotImplementedError

    @property
    def score_kind(self) -> str:
        """What :meth:`scores` returns: ``"logit"``, ``"probability"`` or ``"multilabel-logit"``."""
        if self.output_kind == "logits":
            return "logit"
        return "multilabel-logit" if self.output_kind == "multilabel-logits" else "probability"

    def score_model(self) -> Any:
        """The framework model :meth:`scores` runs after the preprocessing: the user's model, or a view
        of it that stops before its final softmax (sharing its layers: never modify it, copy it)."""
        raise NotImplementedError

    def zero_input(self, images: np.ndarray) -> Any:
        """Like :meth:`differentiable_input`, the point whose preprocessed model input is all zeros
        (black for the default preprocessing, mid-grey for ``[-1, 1]`` models, the mean colour for
        mean/std normalisation)."""
        declared = self.options.declared
        if declared is None:
            return self.from_channels_last(np.zeros_like(self.channels_last(self.model_input(images))))
        neutral = declared.neutral_pixels()
        return self.differentiable_input(np.broadcast_to(neutral, np.shape(images)).astype(np.float32))

    def probabilities(self, scores: Any) -> Any:
        """Differentiable class probabilities from :meth:`scores` (softmax/sigmoid by :attr:`score_kind`)."""
        raise NotImplementedError

    def model_input(self, images: np.ndarray) -> Any:
        """The preprocessed model input for ``images``, on the model's device (torch ``N×C×h×w``,
        Keras ``N×h×w×C``), as the model itself receives it."""
        raise NotImplementedError

    def layer(self, name: Any, image: np.ndarray, reshape: Any = None) -> tuple[Any, str]:
        """The layer called ``name`` (torch: a ``named_modules()`` name; Keras: a layer name; or the layer
        object), or, for ``None``, the CAM layer for ``image``: the last convolution to run, or on a
        transformer its last block's first norm seen as a patch grid (:mod:`xaihub.models.token_grid`,
        :mod:`xaihub.models.keras_tokens`; ``reshape`` overrides the grid); returns ``(layer, name)``."""
        raise NotImplementedError

    def layer_scores(self, inputs: Any, layer: Any) -> tuple[Any, Any]:
        """``(feature map, scores)`` for ``inputs``, both differentiable: torch ``N×C×h×w``,
        Keras ``N×h×w×C``. Counts forward passes."""
        raise NotImplementedError

    def channels_last(self, tensor: Any) -> np.ndarray:
        """A batch tensor in this framework's layout as ``N×H×W×C`` float numpy."""
        raise NotImplementedError

    def from_channels_last(self, values: np.ndarray) -> Any:
        """Channels-last numpy values of :attr:`input_space` as an input tensor (the inverse of
        :meth:`channels_last`), on the model's device."""
        raise NotImplementedError

    def to_image(self, values: np.ndarray, height: int, width: int, conserve: bool = False) -> np.ndarray:
        """A map over :attr:`input_space` (``h×w`` or ``h×w×C``, channels last) at the image's
        ``height×width``: unchanged in pixel space at the image's size, resized otherwise. With
        ``conserve``, the resized map keeps the original's sum (relevance, completeness)."""
        return resize_map(values, height, width, conserve=conserve)
