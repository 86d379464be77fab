"""``captum.guided_backprop``, ``captum.deconvolution``, ``captum.guided_gradcam``: gradients through
rectified ReLUs (captum hooks on ``ReLU`` modules, and here ``ReLU6`` too, see
:mod:`xaihub_captum.rectified_hooks`).

A model whose activations the hooks would not reach is refused before any work: one without
``ReLU``/``ReLU6`` modules, one with other activations (``SiLU``, a functional ``F.relu``), one whose
``ReLU`` input also feeds other operations, and, for deconvolution, a ``ReLU`` module run on parallel
paths (see :mod:`xaihub_captum.architecture`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from xaihub import InputError, MethodUnavailableError
from xaihub.core.params import Choice
from xaihub.models import GradientAdapter
from xaihub.models.token_grid import attached
from xaihub_captum.architecture import rectifier_problems, traced
from xaihub_captum.cam import LAYER
from xaihub_captum.method import InputAttribution
from xaihub_captum.running import batches, repeated

RECTIFIERS = ("ReLU", "ReLU6")


class RectifiedGradient(InputAttribution):
    """Base of the methods that rectify gradients at ``ReLU``/``ReLU6`` modules."""

    conserve = False
    follows_output_gradient: ClassVar[bool] = False

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        from torch import nn

        rectifiers = tuple(getattr(nn, name) for name in RECTIFIERS)
        problems = rectifier_problems(traced(model, image), rectifiers, self.follows_output_gradient)
        if problems:
            raise MethodUnavailableError(f"{self.name} cannot explain this model: {'; '.join(problems)}")


class GuidedBackprop(RectifiedGradient):
    """captum's ``GuidedBackprop``: the gradient of the target's raw score with only positive gradients
    passed back through each ``ReLU``/``ReLU6`` (Springenberg et al.), summed over channels.
    Forward passes: one per target.
    """

    name = "captum.guided_backprop"
    family = "guided_backprop"
    summary = "captum GuidedBackprop (ReLU and ReLU6 modules), summed over channels"

    def expected_forward_passes(self, params, targets):
        """One probe, then one rectified gradient per target."""
        return 1 + targets

    def attribute(self, model, image, inputs, targets, per_batch, seed):
        from xaihub_captum.rectified_hooks import RectifiedGuidedBackprop

        return _rectified(RectifiedGuidedBackprop(model.scores_module()), inputs, targets, per_batch)


class Deconvolution(RectifiedGradient):
    """captum's ``Deconvolution``: the gradient of the target's raw score with each ``ReLU``/``ReLU6``
    passing back the positive part of its output gradient whatever its input (Zeiler & Fergus), summed
    over channels. Forward passes: one per target.
    """

    name = "captum.deconvolution"
    family = "deconvolution"
    summary = "captum Deconvolution (ReLU and ReLU6 modules), summed over channels"
    follows_output_gradient = True

    def expected_forward_passes(self, params, targets):
        """One probe, then one rectified gradient per target."""
        return 1 + targets

    def attribute(self, model, image, inputs, targets, per_batch, seed):
        from xaihub_captum.rectified_hooks import RectifiedDeconvolution

        return _rectified(RectifiedDeconvolution(model.scores_module()), inputs, targets, per_batch)


class GuidedGradCam(RectifiedGradient):
    """captum's ``GuidedGradCam``: guided backpropagation (as ``captum.guided_backprop``) times Grad-CAM of
    the target's raw score on ``layer`` (with its ReLU), upsampled to the input by ``interpolate_mode``
    (captum's default ``"nearest"``); summed over channels. ``layer=None`` picks the last convolution that
    runs (``extras["layer"]``). Forward passes: two per target (and one to find the last convolution).
    """

    name = "captum.guided_gradcam"
    family = "guided_grad_cam"
    summary = "captum GuidedGradCam: guided backpropagation × Grad-CAM on a named or the last convolution"
    defaults: dict[str, Any] = {"layer": None, "interpolate_mode": "nearest"}
    constraints = {**LAYER, "interpolate_mode": Choice("nearest", "bilinear", "bicubic", "area")}

    def expected_forward_passes(self, params, targets):
        """Two probes, then a guided gradient and a layer gradient per target."""
        return 2 + 2 * targets

    def attribute(self, model, image, inputs, targets, per_batch, seed, *, layer, interpolate_mode):
        import torch
        from captum.attr import GuidedGradCam as CaptumGuidedGradCam

        from xaihub_captum.rectified_hooks import RectifiedGuidedBackprop

        module, layer_name = model.layer(layer, image)
        method = CaptumGuidedGradCam(model.scores_module(), module)
        method.guided_backprop = RectifiedGuidedBackprop(model.scores_module())
        with attached(module):
            values = torch.cat([method.attribute(repeated(inputs, len(group)), target=group,
                                                 interpolate_mode=interpolate_mode).detach()
                                for group in batches(targets, per_batch)])
        if tuple(values.shape[1:]) != tuple(inputs.shape[1:]):  # captum returns an empty map when it cannot upsample
            raise InputError(f"layer {layer_name!r} gives a Grad-CAM map captum cannot bring to the input "
                             f"{tuple(inputs.shape[1:])}; pass a layer with an N×C×h×w output")
        return values, [{"layer": layer_name} for _ in targets]


def _rectified(method: Any, inputs: Any, targets: list[int], per_batch: int) -> tuple[Any, list[dict[str, Any]]]:
    import torch

    values = torch.cat([method.attribute(repeated(inputs, len(group)), target=group).detach()
                        for group in batches(targets, per_batch)])
    return values, [{} for _ in targets]
