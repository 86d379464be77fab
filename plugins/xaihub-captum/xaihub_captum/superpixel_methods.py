"""``captum.feature_ablation``, ``captum.shapley_value_sampling``, ``captum.lime``, ``captum.kernel_shap``:
captum's perturbation methods with the shared superpixels as features.

The feature mask is the image's superpixels (``xaihub.core.superpixels.superpixels_for``: ``segmentation``
``"auto"`` by default, sized to the image, computed once per ``explain`` call and shared with
``native.lime``, ``native.kernelshap``, …; or given ``segments``), one
``1×1×H×W`` mask broadcast over the colour channels. A switched-off superpixel shows ``fill``: black
(``"zero"``, the default, as ``native.lime``'s and ``lime.image``'s), its own ``"mean"`` colour, or a
``"blur"``red copy (``xaihub.core.superpixels.fill_image``). Each explanation has ``segments`` and
``segment_weights`` (one value per superpixel) and paints each superpixel with its value.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explanation
from xaihub.core.params import Choice, Integer, Real
from xaihub.core.superpixels import (
    FILLS,
    SEGMENTATION_DEFAULTS,
    fill_image,
    require_superpixels,
    segmentation_constraints,
    superpixels_for,
)
from xaihub.models import GradientAdapter
from xaihub_captum.method import CaptumMethod
from xaihub_captum.pixel_scores import SCORES, pixel_images, pixel_scores, score_name
from xaihub_captum.replay import ReplayedScores
from xaihub_captum.running import captum_run, reseed

SUPERPIXEL_DEFAULTS: dict[str, Any] = {**SEGMENTATION_DEFAULTS, "fill": "zero"}
SUPERPIXEL_CONSTRAINTS: dict[str, Any] = {**segmentation_constraints(), "fill": Choice(*FILLS), "score": Choice(*SCORES)}


class SuperpixelAttribution(CaptumMethod):
    """Base: superpixels, fill and forward function; subclasses compute one weight per superpixel and target.

    Parameters shared by subclasses: ``segmentation`` (``"auto"``, ``"quickshift"``, ``"slic"``,
    ``"felzenszwalb"``, with ``segmentation_params``) or ``segments``; ``fill``;
    ``score`` (``"logit"``: the raw score, ``"probability"``: as ``model.predict``). Perturbed images are
    evaluated ``model.images_per_batch`` at a time (captum's ``perturbations_per_eval``).
    """

    constraints = SUPERPIXEL_CONSTRAINTS
    libraries = ("captum", "scikit-image")
    min_superpixels: int = 1
    """Fewer superpixels are refused before any forward pass (see :func:`xaihub.core.superpixels.require_superpixels`)."""
    few_superpixels_reason = ""

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        import torch

        segments = superpixels_for(image, {k: params.pop(k) for k in SEGMENTATION_DEFAULTS}, seed, model.cache,
                                   model.device)
        require_superpixels(segments, self.name, self.min_superpixels, self.few_superpixels_reason)
        fill, score = params.pop("fill"), params.pop("score")
        perturbation = _Perturbation(
            pixels=pixel_images(model, image[None]), fill=pixel_images(model, fill_image(image, segments, fill)[None]),
            mask=torch.from_numpy(segments)[None, None].to(model.device), scores=pixel_scores(model, score),
            per_batch=model.images_per_batch(*image.shape[:2]), n_segments=int(segments.max()) + 1)
        with captum_run(model, seed):
            weights = self.weights(model, perturbation, list(targets), seed, **params)
        extras = {"score": score_name(model, score), "n_segments": perturbation.n_segments, "fill": fill}
        return [Explanation(target=target, attribution=weights[i][segments], segments=segments,
                            segment_weights=weights[i], extras=dict(extras))
                for i, target in enumerate(targets)]

    def weights(self, model: GradientAdapter, perturbation: "_Perturbation", targets: list[int], seed: int,
                **params: Any) -> np.ndarray:
        """``T×S`` float32: each target's weight for each superpixel."""
        raise NotImplementedError


class FeatureAblation(SuperpixelAttribution):
    """captum's ``FeatureAblation`` over superpixels: a superpixel's value is the drop of the target's
    ``score`` when it alone shows ``fill``. All targets share the ablated images (captum attributes every
    output of one forward function). Forward passes: superpixels + 1, for all targets together.
    """

    name = "captum.feature_ablation"
    family = "feature_ablation"
    summary = "captum FeatureAblation: the score drop when each superpixel alone is switched off"
    defaults: dict[str, Any] = {**SUPERPIXEL_DEFAULTS, "score": "logit"}

    def weights(self, model, perturbation, targets, seed):
        from captum.attr import FeatureAblation as CaptumFeatureAblation

        method = CaptumFeatureAblation(lambda pixels: perturbation.scores(pixels)[:, targets])
        values = method.attribute(perturbation.pixels, baselines=perturbation.fill, feature_mask=perturbation.mask,
                                  perturbations_per_eval=perturbation.per_batch)
        return perturbation.per_segment(values)


class ShapleyValueSampling(SuperpixelAttribution):
    """captum's ``ShapleyValueSampling`` over superpixels: Shapley values of the target's ``score``, the
    superpixels being the players, estimated from ``n_samples`` random orders; each order switches the
    superpixels on one by one, starting from the all-``fill`` image. The values add up to
    ``score(image) − score(all filled)``. All targets share the images. Forward passes:
    ``n_samples × superpixels + 1``, for all targets together.
    """

    name = "captum.shapley_value_sampling"
    family = "shapley_sampling"
    summary = "captum ShapleyValueSampling over superpixels (random orders of the superpixels)"
    defaults: dict[str, Any] = {**SUPERPIXEL_DEFAULTS, "score": "logit", "n_samples": 10}
    samples_parameter = "n_samples"
    constraints = {**SUPERPIXEL_CONSTRAINTS, "n_samples": Integer(1, 10_000)}

    def weights(self, model, perturbation, targets, seed, *, n_samples):
        from captum.attr import ShapleyValueSampling as CaptumShapleyValueSampling

        method = CaptumShapleyValueSampling(lambda pixels: perturbation.scores(pixels)[:, targets])
        values = method.attribute(perturbation.pixels, baselines=perturbation.fill, feature_mask=perturbation.mask,
                                  n_samples=n_samples, perturbations_per_eval=perturbation.per_batch)
        return perturbation.per_segment(values[0])


class SurrogateAttribution(SuperpixelAttribution):
    """Base of captum's surrogate methods (LIME, Kernel SHAP), which explain one target per run.

    Each target's run starts from the same seed, so it draws the same ``n_samples`` superpixel masks; the
    first run's images are scored for every class and replayed to the others
    (:class:`~xaihub_captum.replay.ReplayedScores`). Forward passes: ``n_samples``, for all targets together.
    """

    def weights(self, model, perturbation, targets, seed, **params):
        replay = ReplayedScores(perturbation.scores)
        rows = []
        for target in targets:
            reseed(model, seed)
            replay.rewind()
            method = self.captum_method(lambda pixels, target=target: replay(pixels)[:, target], **params)
            coefficients = method.attribute(
                perturbation.pixels, baselines=perturbation.fill, feature_mask=perturbation.mask,
                n_samples=params["n_samples"], perturbations_per_eval=perturbation.per_batch, return_input_shape=False)
            rows.append(coefficients.detach().reshape(-1).float().cpu().numpy())
        return np.stack(rows).astype(np.float32)

    def captum_method(self, forward: Any, **params: Any) -> Any:
        """The captum attribution object for one target's ``forward``."""
        raise NotImplementedError


class Lime(SurrogateAttribution):
    """captum's ``Lime`` over superpixels, set up as the lime library defines image LIME (and as
    ``native.lime`` and ``lime.image``): ``n_samples`` masks switching each superpixel on with probability
    1/2 (captum's sampling), weighted by ``sqrt(exp(−d²/kernel_width²))`` of the cosine distance ``d``
    between the mask and the all-on mask, fitted by ridge regression (scikit-learn's ``Ridge``, ``alpha``,
    through captum's ``SkLearnRidge``). The weights are the surrogate's coefficients for the target's
    ``score`` (default ``"probability"``, as the other LIME implementations).
    """

    name = "captum.lime"
    family = "lime"
    summary = "captum Lime over superpixels (lime's kernel on cosine distance, ridge surrogate)"
    defaults: dict[str, Any] = {**SUPERPIXEL_DEFAULTS, "score": "probability", "n_samples": 300,
                                "kernel_width": 0.25, "alpha": 1.0}
    samples_parameter = "n_samples"
    constraints = {**SUPERPIXEL_CONSTRAINTS, "n_samples": Integer(2, 100_000), "kernel_width": Real(0, low_open=True),
                   "alpha": Real(0)}
    libraries = ("captum", "scikit-image", "scikit-learn")

    def expected_forward_passes(self, params, targets):
        """``n_samples`` perturbed images, shared by every target."""
        return int(params["n_samples"])

    def captum_method(self, forward, *, n_samples, kernel_width, alpha):
        from captum._utils.models.linear_model import SkLearnRidge
        from captum.attr import Lime as CaptumLime

        return CaptumLime(forward, interpretable_model=SkLearnRidge(alpha=alpha),
                          similarity_func=lambda original, perturbed, mask, **_: _lime_kernel(mask, kernel_width))


class KernelShap(SurrogateAttribution):
    """captum's ``KernelShap`` over superpixels: ``n_samples`` coalitions drawn by the Shapley kernel
    (captum always includes the all-on and all-off ones) and a linear regression of the target's ``score``
    on them (default ``"probability"``, as ``native.kernelshap`` and ``shap.kernel``); the weights
    approximate Shapley values and add up to about ``score(image) − score(all filled)``. An image of one
    superpixel is refused upfront: captum draws coalitions of 1 to M−1 superpixels, none when M is 1.
    """

    name = "captum.kernel_shap"
    family = "kernel_shap"
    summary = "captum KernelShap over superpixels"
    defaults: dict[str, Any] = {**SUPERPIXEL_DEFAULTS, "score": "probability", "n_samples": 300}
    samples_parameter = "n_samples"
    constraints = {**SUPERPIXEL_CONSTRAINTS, "n_samples": Integer(2, 100_000)}
    libraries = ("captum", "scikit-image", "scikit-learn")
    min_superpixels = 2
    few_superpixels_reason = "captum's KernelShap samples coalitions of 1 to M−1 of the M superpixels"

    def expected_forward_passes(self, params, targets):
        """``n_samples`` perturbed images, shared by every target."""
        return int(params["n_samples"])

    def captum_method(self, forward, *, n_samples):
        from captum.attr import KernelShap as CaptumKernelShap

        return CaptumKernelShap(forward)


class _Perturbation:
    """What every run over one image's superpixels needs (tensors on the model's device)."""

    def __init__(self, pixels: Any, fill: Any, mask: Any, scores: Any, per_batch: int, n_segments: int) -> None:
        self.pixels, self.fill, self.mask, self.scores = pixels, fill, mask, scores
        self.per_batch, self.n_segments = per_batch, n_segments
        flat = mask.reshape(-1).cpu().numpy()
        self._first_pixel = np.unique(flat, return_index=True)[1]

    def per_segment(self, values: Any) -> np.ndarray:
        """``T×S`` weights from captum's ``T×C×H×W`` attributions (constant over a superpixel and channels)."""
        return values[:, 0].reshape(len(values), -1)[:, self._first_pixel].float().cpu().numpy().astype(np.float32)


def _lime_kernel(mask: Any, kernel_width: float) -> float:
    """LIME's weight of a mask: ``sqrt(exp(−d²/w²))``, ``d`` its cosine distance to the all-on mask."""
    on = mask.float().reshape(-1)
    norm = float(on.norm())
    distance = 1.0 - (float(on.sum()) / (norm * on.numel() ** 0.5) if norm > 0 else 0.0)
    return float(np.sqrt(np.exp(-(distance**2) / kernel_width**2)))
