"""Xplique's black-box methods that perturb the image's pixels: Occlusion, RISE, Sobol and HSIC
attribution, on any model (torch, Keras or a predict function).

They explain the target's probability (``model.predict``, like ``native.lime``), perturbing the
image in pixel scale ``[0, 255]``: 0 is black. Targets share the model's predictions of identical
perturbed images (see :class:`~xaihub_xplique.shared_predictions.SharedPredictions`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub import Explanation, Requirement
from xaihub.core.params import Choice, Integer, Real
from xaihub.models import ModelAdapter
from xaihub_xplique.base import XpliqueMethod, copies, one_hot
from xaihub_xplique.shared_predictions import SharedPredictions

PERTURBATIONS = ("inpainting", "blurring", "amplitude")


class PerturbationMethod(XpliqueMethod):
    """Build Xplique's explainer on the shared predictions, explain one copy of the image per target."""

    requires = Requirement()

    def build(self, predictions: SharedPredictions, model: ModelAdapter, image: np.ndarray, seed: int,
              params: dict[str, Any], extras: dict[str, Any]) -> Any:
        """Xplique's explainer for ``predictions``; may record what it chose in ``extras``."""
        raise NotImplementedError

    def run(self, model, image, targets, seed, params):
        predictions = SharedPredictions(model)
        extras: dict[str, Any] = {"score": "probability"}
        explainer = self.build(predictions, model, image, seed, params, extras)
        maps = np.asarray(explainer.explain(copies(image, len(targets)), one_hot(targets, model.num_classes)))
        extras["requested_images"] = predictions.requested
        return [self.explanation(target, values[..., 0], extras) for target, values in zip(targets, maps)]

    def explanation(self, target: int, attribution: np.ndarray, extras: dict[str, Any]) -> Explanation:
        return Explanation(target=target, attribution=attribution.astype(np.float32), extras=dict(extras))


class XpliqueOcclusion(PerturbationMethod):
    """Occlusion sensitivity (Zeiler & Fergus 2014): square patches of ``occlusion_value`` slide over
    the image; a pixel's attribution is the sum, over the patches covering it, of the probability
    drop they cause. ``patch_size`` ``None`` is an eighth of the image's shorter side (a larger one is
    cut to that side) and ``patch_stride`` ``None`` half the patch (both in ``extras``); cost: 1 + the
    number of patch positions."""

    name = "xplique.occlusion"
    family = "occlusion"
    summary = "Xplique Occlusion: probability drop under sliding black patches (any model)"
    xplique_class = "xplique.attributions:Occlusion"
    defaults: dict[str, Any] = {"patch_size": None, "patch_stride": None, "occlusion_value": 0.0}
    constraints = {"patch_size": [None, Integer(1, 4096)], "patch_stride": [None, Integer(1, 4096)],
                   "occlusion_value": Real(0, 255)}

    def build(self, predictions, model, image, seed, params, extras):
        shorter = min(image.shape[:2])
        size = min(params["patch_size"] or max(1, shorter // 8), shorter)
        stride = params["patch_stride"] or max(1, size // 2)
        extras.update(patch_size=size, patch_stride=stride)
        return self.xplique_type()(predictions, batch_size=model.images_per_batch(*image.shape[:2]),
                                   patch_size=size, patch_stride=stride,
                                   occlusion_value=float(params["occlusion_value"]))


class XpliqueRise(PerturbationMethod):
    """RISE (Petsiuk et al. 2018): the mean of ``nb_samples`` random masks weighted by the probability
    of the masked image. Masks are ``grid_size``² cells kept with ``preservation_probability``,
    upsampled bilinearly and randomly shifted; hidden pixels take ``mask_value``. Every target draws
    its own shifts, so each costs ``nb_samples`` passes (Xplique's default is 4000)."""

    name = "xplique.rise"
    family = "rise"
    summary = "Xplique RISE: random masks weighted by the masked image's probability (any model)"
    xplique_class = "xplique.attributions:Rise"
    draws_in_tensorflow = True
    defaults: dict[str, Any] = {"nb_samples": 1000, "grid_size": 7, "preservation_probability": 0.5,
                                "mask_value": 0.0}
    samples_parameter = "nb_samples"
    constraints = {"nb_samples": Integer(1, 100_000), "grid_size": Integer(1, 512),
                   "preservation_probability": Real(0, 1, low_open=True, high_open=True),
                   "mask_value": Real(0, 255)}

    def expected_forward_passes(self, params, targets):
        """``nb_samples`` masked images per target."""
        return int(params["nb_samples"]) * targets

    def build(self, predictions, model, image, seed, params, extras):
        return self.xplique_type()(predictions, batch_size=model.images_per_batch(*image.shape[:2]),
                                   nb_samples=params["nb_samples"], grid_size=params["grid_size"],
                                   preservation_probability=params["preservation_probability"],
                                   mask_value=float(params["mask_value"]))


class PowerOfTwo(Integer):
    """An int that is a power of two, in ``[low, high]``."""

    def accepts(self, value: Any) -> bool:
        return super().accepts(value) and value & (value - 1) == 0

    def describe(self) -> str:
        return f"a power of two {super().describe().removeprefix('an int ')}"

    def invalid_examples(self) -> list[Any]:
        return [*super().invalid_examples(), 3, 48]


class SensitivityMethod(PerturbationMethod):
    """Global sensitivity analysis over a ``grid_size``² grid of cells, each scaled by a mask value
    in [0, 1] (``perturbation_function``: ``inpainting`` towards black, ``blurring`` towards a
    blurred copy, ``amplitude``). The designs are quasi-random (an unscrambled Sobol sequence), so
    the seed changes nothing; every target shares them and their predictions."""

    def build(self, predictions, model, image, seed, params, extras):
        return self.xplique_type()(predictions, batch_size=model.images_per_batch(*image.shape[:2]),
                                   grid_size=params["grid_size"], nb_design=params["nb_design"],
                                   perturbation_function=params["perturbation_function"])


class XpliqueSobol(SensitivityMethod):
    """Sobol attribution (Fel et al. 2021): each cell's total-order Sobol index of the target's
    probability (Jansen estimator), upsampled bicubically; non-negative. Cost:
    ``nb_design × (grid_size² + 2)`` passes for all targets together."""

    name = "xplique.sobol"
    family = "sobol"
    summary = "Xplique Sobol attribution: total-order Sobol indices of grid cells (any model)"
    xplique_class = "xplique.attributions:SobolAttributionMethod"
    defaults: dict[str, Any] = {"grid_size": 8, "nb_design": 32, "perturbation_function": "inpainting"}
    samples_parameter = "nb_design"
    constraints = {"grid_size": Integer(1, 64), "nb_design": PowerOfTwo(2, 4096),
                   "perturbation_function": Choice(*PERTURBATIONS)}

    def expected_forward_passes(self, params, targets):
        """``nb_design × (grid_size² + 2)`` designs, shared by every target."""
        return int(params["nb_design"]) * (int(params["grid_size"]) ** 2 + 2)



class XpliqueHsic(SensitivityMethod):
    """HSIC attribution (Novello et al. 2022): each cell's Hilbert-Schmidt independence between its
    on/off state and the target's probability (RBF kernel), over ``nb_design`` binary designs,
    upsampled bicubically. Cost: ``nb_design`` passes for all targets together."""

    name = "xplique.hsic"
    family = "hsic"
    summary = "Xplique HSIC attribution: HSIC of grid cells and the probability (any model)"
    xplique_class = "xplique.attributions:HsicAttributionMethod"
    defaults: dict[str, Any] = {"grid_size": 8, "nb_design": 500, "perturbation_function": "inpainting"}
    samples_parameter = "nb_design"
    constraints = {"grid_size": Integer(1, 64), "nb_design": Integer(2, 100_000),
                   "perturbation_function": Choice(*PERTURBATIONS)}

    def expected_forward_passes(self, params, targets):
        """``nb_design`` designs, shared by every target."""
        return int(params["nb_design"])

