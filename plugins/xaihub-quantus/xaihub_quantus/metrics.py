"""Quantus metrics as xaihub metrics: one :class:`QuantusMetric` subclass each.

Every metric scores one explanation: Quantus gets the explained image as a batch of one
(see :mod:`xaihub_quantus.bridge`), the target as ``y_batch`` and the map as ``a_batch``, and
returns one score, stored under the metric's name. Parameters are Quantus' own (same names),
with Quantus' defaults except where a default would cost hundreds of method runs or forward
passes; ``xaihub list`` and the plugin's README give them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np

from xaihub import InputError, Metric
from xaihub.core.masks import check_mask, object_mask
from xaihub.core.seeding import seeded_global_numpy
from xaihub.metrics.faithfulness import importance_order
from xaihub_quantus import repairs
from xaihub_quantus.bridge import adapter_module, explain_function, import_quantus, model_input, quiet

if TYPE_CHECKING:
    from xaihub import Explanation
    from xaihub.contracts.metric import Rerun
    from xaihub.models import ModelAdapter


class QuantusMetric(Metric):
    """A Quantus metric class (``quantus_class``) called on one explanation."""

    libraries = ("quantus", "torch")
    #: The class in the ``quantus`` namespace.
    quantus_class: ClassVar[str]

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int,
                rerun: "Rerun | None" = None, **params: Any) -> dict[str, float]:
        """Quantus' score; for a metric that runs the method again (:attr:`reruns_method`: Quantus then
        needs an ``explain_func``), through the runner's ``rerun``."""
        return {self.name: self.score(self.evaluate(model, explanation, seed, rerun, params))}

    def evaluate(self, model: "ModelAdapter", explanation: "Explanation", seed: int, rerun: "Rerun | None",
                 params: Mapping[str, Any]) -> Any:
        """What Quantus' metric returns for the explanation's image (a batch of one), through ``model``."""
        image = explanation.image
        explain_func = explain_function(model, explanation, seed, rerun) if rerun is not None else None
        with quiet(), seeded_global_numpy(seed):
            quantus = import_quantus()
            metric = getattr(quantus, self.quantus_class)(
                **self.options(params, model, explanation, seed), return_aggregate=False, disable_warnings=True,
                display_progressbar=False)
            scores = metric(model=adapter_module(model), x_batch=model_input(image),
                            y_batch=np.array([explanation.target]), a_batch=self.attribution(explanation.attribution),
                            s_batch=self.segmentation(params, image.shape[:2]), channel_first=True,
                            explain_func=explain_func, explain_func_kwargs={}, model_predict_kwargs={},
                            softmax=False, device="cpu")
        return scores

    def options(self, params: Mapping[str, Any], model: "ModelAdapter", explanation: "Explanation",
                seed: int) -> dict[str, Any]:
        """The Quantus class's constructor arguments; by default the metric's parameters as they are."""
        return dict(params)

    def attribution(self, attribution: np.ndarray) -> np.ndarray:
        """Quantus' ``a_batch``: ``1×1×H×W``."""
        return np.asarray(attribution, dtype=np.float32)[None, None]

    def segmentation(self, params: Mapping[str, Any], shape: tuple[int, int]) -> np.ndarray | None:
        """Quantus' ``s_batch`` (the object's mask), for localisation metrics."""
        return None

    def score(self, scores: Any) -> float:
        """The one number stored: by default Quantus' score of the single image."""
        return float(np.asarray(scores, dtype=np.float64).ravel()[0])


class RecordedMetric(QuantusMetric):
    """A Quantus metric whose perturbed images do not depend on the model's answers (ROAD, IROF), scored in the
    adapter's batches instead of one Quantus call of the model per image.

    Quantus first runs on an :class:`ImageRecorder`, a stand-in adapter that keeps every image it is asked to
    score and calls no model; the real adapter then scores them all in its batches (the same images, the same
    number of forward passes), and :meth:`from_predictions` computes the score as Quantus' ``evaluate_batch``
    does from those answers.
    """

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int,
                rerun: "Rerun | None" = None, **params: Any) -> dict[str, float]:
        recorder = ImageRecorder(model.num_classes or 1)
        self.evaluate(recorder, explanation, seed, rerun, params)  # type: ignore[arg-type]
        probabilities = model.predict(np.concatenate(recorder.batches)) if recorder.batches else np.empty((0, 0))
        return {self.name: self.from_predictions(probabilities, explanation, params)}

    def from_predictions(self, probabilities: np.ndarray, explanation: "Explanation",
                         params: Mapping[str, Any]) -> float:
        """The score from the probabilities of the recorded images, in the order Quantus asked for them."""
        raise NotImplementedError


class ImageRecorder:
    """A stand-in adapter for a :class:`RecordedMetric`'s Quantus run: ``predict`` keeps each batch of pixel
    images, as :func:`~xaihub_quantus.bridge.adapter_module` hands them to an adapter, and answers a uniform
    distribution; it calls no model."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.batches: list[np.ndarray] = []

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.batches.append(np.array(images, dtype=np.float32))
        return np.full((len(images), self.num_classes), 1.0 / self.num_classes)


def _ranks(attribution: np.ndarray) -> np.ndarray:
    """Distinct scores in ``(0, 1]`` with the order of :func:`importance_order` (ties in raster order):
    for metrics that use only the order, so no two pixels tie."""
    order = importance_order(attribution)
    ranks = np.empty(order.size, np.float32)
    ranks[order] = np.arange(order.size, 0, -1, dtype=np.float32) / order.size
    return ranks.reshape(attribution.shape)


def _curve_auc(scores: Any) -> float:
    """Area under a curve of equally spaced points, x-axis normalised to ``[0, 1]``."""
    curve = np.asarray(scores, dtype=np.float64).ravel()
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1))) if len(curve) > 1 else float(curve[0])


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive int, got {value!r}")


class FaithfulnessCorrelation(QuantusMetric):
    name = "quantus.faithfulness_correlation"
    quantus_class = "FaithfulnessCorrelation"
    summary = ("Pearson correlation, over `nr_runs` random subsets of `subset_size` values set to "
               "`perturb_baseline`, between their attribution sum and the probability drop (Bhatt et al. 2020)")
    lower_is_better = {name: False}
    defaults = {"nr_runs": 100, "subset_size": 224, "perturb_baseline": "black"}

    def check_params(self, params: Mapping[str, Any]) -> None:
        _positive_int("nr_runs", params["nr_runs"])
        _positive_int("subset_size", params["subset_size"])


class Road(RecordedMetric):
    name = "quantus.road"
    quantus_class = "ROAD"
    summary = ("ROAD (Rong et al. 2022): the top `percentages` % of pixels replaced by noisy linear imputation; "
               "the share of those levels at which the target stays the top class (MoRF)")
    lower_is_better = {name: True}
    defaults = {"percentages": (10, 20, 30, 40, 50, 60, 70, 80, 90), "noise": 0.01}

    def expected_forward_passes(self, params):
        """One noisy-imputed image per percentage."""
        return len(params["percentages"])

    def check_params(self, params: Mapping[str, Any]) -> None:
        percentages = params["percentages"]
        if (isinstance(percentages, (str, bytes)) or not hasattr(percentages, "__len__") or not percentages
                or not all(isinstance(p, (int, float)) and 0 < p < 100 for p in percentages)):
            raise InputError(f"percentages must be a non-empty list of numbers in (0, 100), got {percentages!r}")

    def options(self, params: Mapping[str, Any], model: "ModelAdapter", explanation: "Explanation",
                seed: int) -> dict[str, Any]:
        return {"percentages": list(params["percentages"]), "noise": params["noise"],
                "perturb_func": repairs.road_imputation}

    def attribution(self, attribution: np.ndarray) -> np.ndarray:
        # 3 identical channels (see repairs.road_imputation), in rank order so that no two pixels tie
        return np.repeat(_ranks(attribution)[None, None], 3, axis=1)

    def from_predictions(self, probabilities: np.ndarray, explanation: "Explanation",
                         params: Mapping[str, Any]) -> float:
        """Quantus' ``evaluate_batch``: for each percentage (one image each), whether the target is still the top
        class; the score is the share of percentages where it is."""
        if len(probabilities) != len(params["percentages"]):
            raise RuntimeError(f"ROAD asked for {len(probabilities)} image(s); expected one per percentage "
                               f"({len(params['percentages'])})")
        return float(np.mean(np.argmax(probabilities, axis=-1) == explanation.target))

    def score(self, scores: Any) -> float:
        """The score from Quantus' own answer (``{percentage: kept}``), when it calls the model itself."""
        return float(np.mean(list(scores.values())))


class Irof(RecordedMetric):
    name = "quantus.irof"
    quantus_class = "IROF"
    summary = ("IROF (Rieger & Hansen 2020): SLIC segments replaced by their `perturb_baseline` in order of "
               "mean attribution; area over the curve of the probability relative to the original's")
    lower_is_better = {name: False}
    defaults = {"segmentation_method": "slic", "perturb_baseline": "mean"}

    def check_params(self, params: Mapping[str, Any]) -> None:
        if params["segmentation_method"] not in ("slic", "felzenszwalb"):
            raise InputError(f"segmentation_method must be 'slic' or 'felzenszwalb', got "
                             f"{params['segmentation_method']!r}")

    def options(self, params: Mapping[str, Any], model: "ModelAdapter", explanation: "Explanation",
                seed: int) -> dict[str, Any]:
        return {**params, "perturb_func": repairs.mask_replacement}

    def from_predictions(self, probabilities: np.ndarray, explanation: "Explanation",
                         params: Mapping[str, Any]) -> float:
        """Quantus' ``evaluate_batch``: the number of segments less the trapezoidal area under the target's
        probability relative to the unperturbed image's (the first image Quantus asks for)."""
        if len(probabilities) < 2:
            raise RuntimeError(f"IROF asked for {len(probabilities)} image(s); expected the image and one per segment")
        relative = probabilities[1:, explanation.target] / probabilities[0, explanation.target]
        return float(len(relative) - np.trapezoid(relative, dx=1))


class PixelFlipping(QuantusMetric):
    name = "quantus.pixel_flipping"
    quantus_class = "PixelFlipping"
    summary = ("pixel flipping (Bach et al. 2015): channel values set to `perturb_baseline`, most important "
               "first, in about `steps` steps; AUC of the target probability over [0, 1]")
    lower_is_better = {name: True}
    defaults = {"steps": 20, "perturb_baseline": "black"}

    def check_params(self, params: Mapping[str, Any]) -> None:
        _positive_int("steps", params["steps"])

    def options(self, params: Mapping[str, Any], model: "ModelAdapter", explanation: "Explanation",
                seed: int) -> dict[str, Any]:
        return {"features_in_step": features_per_step(explanation.attribution.size, params["steps"]),
                "perturb_baseline": params["perturb_baseline"]}

    def attribution(self, attribution: np.ndarray) -> np.ndarray:
        return _ranks(attribution)[None, None]

    def score(self, scores: Any) -> float:
        return _curve_auc(scores)


def features_per_step(pixels: int, steps: int) -> int:
    """Quantus' ``features_in_step`` for about ``steps`` steps over ``3 × pixels`` channel values: the
    divisor of ``pixels`` (Quantus requires one) nearest to ``3 × pixels / steps``."""
    wanted = 3 * pixels / steps
    divisors = [d for d in range(1, math.isqrt(pixels) + 1) if pixels % d == 0]
    divisors += [pixels // d for d in divisors]
    return min(divisors, key=lambda d: (abs(math.log(d / wanted)), d))


class RegionPerturbation(QuantusMetric):
    name = "quantus.region_perturbation"
    quantus_class = "RegionPerturbation"
    summary = ("region perturbation (Samek et al. 2016): `patch_size` patches set to `perturb_baseline` in order "
               "of attribution sum, `regions_evaluation` of them; AOPC, the mean probability drop (MoRF)")
    lower_is_better = {name: False}
    defaults = {"patch_size": 8, "regions_evaluation": 100, "perturb_baseline": "black"}

    def check_params(self, params: Mapping[str, Any]) -> None:
        _positive_int("patch_size", params["patch_size"])
        _positive_int("regions_evaluation", params["regions_evaluation"])

    def score(self, scores: Any) -> float:
        return float(np.mean(np.asarray(scores, dtype=np.float64)))


class MaxSensitivity(QuantusMetric):
    name = "quantus.max_sensitivity"
    quantus_class = "MaxSensitivity"
    summary = ("max-sensitivity (Yeh et al. 2019): the largest relative change of the map over `nr_samples` "
               "noisy copies (uniform noise ±`lower_bound` on [0, 1] pixels); costs `nr_samples` method runs")
    lower_is_better = {name: True}
    defaults = {"nr_samples": 5, "lower_bound": 0.2}
    reruns_method = True

    def check_params(self, params: Mapping[str, Any]) -> None:
        _positive_int("nr_samples", params["nr_samples"])


class RandomLogit(QuantusMetric):
    name = "quantus.random_logit"
    quantus_class = "RandomLogit"
    summary = ("random logit (Sixt et al. 2020): SSIM between the map and the method's map for a random other "
               "class; costs one method run")
    lower_is_better = {name: True}
    reruns_method = True

    def options(self, params: Mapping[str, Any], model: "ModelAdapter", explanation: "Explanation",
                seed: int) -> dict[str, Any]:
        return {"num_classes": model.num_classes, "seed": seed}

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int,
                **params: Any) -> dict[str, float]:
        if model.num_classes is None or model.num_classes < 2:
            raise InputError(f"{self.name} needs a model with at least 2 classes, got {model.num_classes}")
        return super().compute(model, explanation, seed=seed, **params)


class Sparseness(QuantusMetric):
    name = "quantus.sparseness"
    quantus_class = "Sparseness"
    summary = "Gini index of |attribution| (Chalasani et al. 2020); no model calls"
    lower_is_better = {name: False}

    def expected_forward_passes(self, params):
        """None: it reads the map."""
        return 0


class Complexity(QuantusMetric):
    name = "quantus.complexity"
    quantus_class = "Complexity"
    summary = "entropy of the share of |attribution| per pixel (Bhatt et al. 2020); no model calls"
    lower_is_better = {name: True}

    def expected_forward_passes(self, params):
        """None: it reads the map."""
        return 0


class _Localisation(QuantusMetric):
    """A metric of how the map falls on the object, given as ``mask``."""

    required = ("mask",)

    def expected_forward_passes(self, params):
        """None: it reads the map (and the mask)."""
        return 0

    def check_params(self, params: Mapping[str, Any]) -> None:
        check_mask(params["mask"])

    def options(self, params: Mapping[str, Any], model: "ModelAdapter", explanation: "Explanation",
                seed: int) -> dict[str, Any]:
        return {key: value for key, value in params.items() if key != "mask"}

    def segmentation(self, params: Mapping[str, Any], shape: tuple[int, int]) -> np.ndarray | None:
        return object_mask(params["mask"], shape).astype(np.float32)[None, None]


class PointingGame(_Localisation):
    name = "quantus.pointing_game"
    quantus_class = "PointingGame"
    summary = "1.0 when the map's maximum falls on the object `mask` (Zhang et al. 2018), else 0.0"
    lower_is_better = {name: False}


class RelevanceMassAccuracy(_Localisation):
    name = "quantus.relevance_mass_accuracy"
    quantus_class = "RelevanceMassAccuracy"
    summary = ("share of the positive attribution that falls on the object `mask` (Arras et al. 2022); NaN for a "
               "map without positive values")
    lower_is_better = {name: False}

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int,
                **params: Any) -> dict[str, float]:
        if not (explanation.attribution > 0).any():
            return {self.name: math.nan}  # no positive mass to share out
        return super().compute(model, explanation, seed=seed, **params)

    def attribution(self, attribution: np.ndarray) -> np.ndarray:
        # the positive part: Arras et al. share out positive relevance, and Quantus divides the signed sum
        # inside the mask by the signed total (-0.02 for a map of +1 on a small mask and -1 elsewhere)
        return super().attribution(np.maximum(attribution, 0))


METRICS = (FaithfulnessCorrelation, Road, Irof, PixelFlipping, RegionPerturbation, MaxSensitivity, RandomLogit,
           Sparseness, Complexity, PointingGame, RelevanceMassAccuracy)
