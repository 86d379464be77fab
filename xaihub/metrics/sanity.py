"""The model-parameter randomisation test (Adebayo et al., "Sanity checks for saliency maps", 2018).

A method whose map hardly changes when the model's weights are replaced by random ones
does not explain the model: it shows the image (edges, colours) instead. The metric runs the
explanation's method again, with the same image, target, seed and parameters, on a copy of
the model whose every layer is re-initialised, and compares the two maps' magnitudes
(``|attribution|``, since randomisation may flip signs):

* ``sanity.randomization.spearman``: Spearman rank correlation of the two maps' pixels;
* ``sanity.randomization.ssim``: structural similarity (``skimage.metrics.structural_similarity``)
  of the two maps, each divided by its maximum;
* ``sanity.randomization.flagged``: 1.0 when the Spearman correlation exceeds ``threshold``
  (0.5): the method fails the check.

Lower similarity is better. The randomised copy is made once per :func:`xaihub.explain` call
and shared by its methods; the user's model is never modified. Torch: a deep copy whose
modules' ``reset_parameters`` run under ``torch.manual_seed(seed)`` (the caller's random state
is restored), and parameters of modules without one are redrawn from a normal distribution of
their own spread. Keras: ``keras.models.clone_model`` with every layer's initialisers seeded.
A plain predict function has no weights: the metric is unavailable for it.

Two smooth maps centred on the object correlate whatever the weights (Grad-CAM's ρ flips from photo
to photo), the known weakness of MPRT's similarity measure (Hedström et al. 2024, "Sanity checks
revisited"). So the same rerun also gives

* ``sanity.randomization.emprt``: eMPRT, the relative rise in the discrete entropy of ``|map|``
  (:func:`discrete_entropy`, 100 equal bins) from the original model to the randomised one,
  ``(H(random) − H(original)) / H(original)``. A method that explains the model gives a noisier map of a
  random model, so higher is better;
* ``sanity.randomization.emprt_passes``: 1.0 when eMPRT exceeds ``emprt_threshold``, 0.0 when it does not.

and two more metrics run more reruns: :class:`SmoothRandomization` (``sanity.smooth_randomization``:
sMPRT, each map averaged over noisy copies of the image before the Spearman; ``2N − 1`` reruns) and
:class:`Cascading` (``sanity.cascading``: Adebayo et al.'s cascading randomisation, output layers first,
one Spearman per group of layers; ``K`` reruns). When the randomised model's map is itself degenerate (a
constant or all-zero map) the values are ``NaN`` and the runner records why
(:class:`~xaihub.core.maps.DegenerateMapError`), never a pass.

The eMPRT threshold (``emprt_threshold``, default 0.1) comes from measurements
(``benchmarks/randomisation_thresholds.py``, seed 0; EfficientNet-Lite0 on its three photos, top class, and
the ground-truth object model on four task images, true class; per image):

========================  ==========================  ===============================
method                    eMPRT, EfficientNet-Lite0   eMPRT, ground-truth object model
========================  ==========================  ===============================
gradients.saliency        +0.66, +0.28, +0.42         +0.44, +0.71, +1.97, +0.73
gradients.gradcam         −0.03, −0.19, −0.83         −0.93, NaN (random CAM all zero), +1.62, +0.03
native.lime (200 samples) +0.01, +0.05, −0.02         +0.00, +0.39, +0.10, +0.02
baseline.noise/centre     0 (the same map)            0
baseline.edges            0                           0
========================  ==========================  ===============================

The controls give exactly 0 and the gradient of a trained model at least 0.28, so 0.1 separates them with a
margin. Grad-CAM's map of a random model is often *smoother* than the trained one's (eMPRT < 0): it fails,
where MPRT's ρ passed it on two photos of three. eMPRT says little about superpixel maps (LIME, Kernel SHAP):
a map painted by ~100 segments fills few histogram bins whatever the weights, so their rise stays near 0 even
when their ρ is near 0 (LIME: −0.08 mean on EfficientNet-Lite0); read ρ and the cascading curve for them.
"""

from __future__ import annotations

import copy
import itertools
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from xaihub.contracts.explainer import Requirement
from xaihub.contracts.metric import WEIGHTS, Metric, Rerun
from xaihub.core.agreement import spearman
from xaihub.core.errors import InputError, ModelError
from xaihub.core.maps import DegenerateMapError, degenerate_reason

if TYPE_CHECKING:
    from xaihub.core.explanation import Explanation
    from xaihub.models import ModelAdapter

DEFAULT_THRESHOLD = 0.5
DEFAULT_EMPRT_THRESHOLD = 0.1
ENTROPY_BINS = 100
_PREFIX = "sanity.randomization"
_SMOOTH = "sanity.smooth_randomization"
_CASCADING = "sanity.cascading"
MAX_GROUPS = 8


class Randomization(Metric):
    """Adebayo et al.'s model-parameter randomisation test for one explanation."""

    name = _PREFIX
    summary = ("the method run again on a copy of the model with re-initialised weights; Spearman and SSIM "
               "between the maps' magnitudes, flagged above `threshold` (costs one method run)")
    lower_is_better = {f"{_PREFIX}.spearman": True, f"{_PREFIX}.ssim": True, f"{_PREFIX}.flagged": None,
                       f"{_PREFIX}.emprt": False, f"{_PREFIX}.emprt_passes": None}
    defaults = {"threshold": DEFAULT_THRESHOLD, "emprt_threshold": DEFAULT_EMPRT_THRESHOLD}
    requires = Requirement(WEIGHTS, ("torch", "keras"))
    libraries = ("scikit-image", "scipy")
    reruns_method = True

    def expected_reruns(self, params: Mapping[str, Any]) -> int:
        """One run of the method on the randomised model per image (for every target at once)."""
        return 1

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """None besides the rerun."""
        return 0

    def check_params(self, params: Mapping[str, Any]) -> None:
        _check_correlation(_PREFIX, params["threshold"])
        emprt_threshold = params["emprt_threshold"]
        if not _is_number(emprt_threshold) or not -1 <= emprt_threshold:
            raise InputError(f"{_PREFIX}'s emprt_threshold is a relative rise of entropy, a number ≥ −1, "
                             f"got {emprt_threshold!r}")

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int, threshold: float,
                emprt_threshold: float, rerun: Rerun) -> dict[str, float]:
        randomised = model.cache.get_or_compute("sanity.randomised-model", seed,
                                                lambda: randomised_adapter(model, seed))
        random_map = np.abs(_rerun_on(model, randomised, rerun, explanation))
        _check_random_map(random_map)
        original = np.abs(explanation.attribution)
        rho = spearman(original, random_map)
        rise = emprt(original, random_map)
        return {f"{_PREFIX}.spearman": rho, f"{_PREFIX}.ssim": map_ssim(original, random_map),
                f"{_PREFIX}.flagged": float(rho > threshold), f"{_PREFIX}.emprt": rise,
                f"{_PREFIX}.emprt_passes": float(rise > emprt_threshold)}


class SmoothRandomization(Metric):
    """sMPRT (Hedström et al. 2024): the randomisation test on maps denoised by averaging over noisy copies
    of the image.

    Each map (original model, randomised model) is the mean of the method's maps of ``samples`` images: the
    image itself and ``samples − 1`` copies with Gaussian noise of ``noise`` times the image's value range
    (clipped to 0…255); then the Spearman ρ of their magnitudes, flagged above ``threshold``. Averaging takes
    out the shattered-gradient noise that lowers ρ for noisy methods whatever the weights, so what is left
    compares what the maps show. Costs ``2 × samples − 1`` runs of the method (the original map is reused).
    """

    name = _SMOOTH
    summary = ("sMPRT: the randomisation test on maps averaged over `samples` noisy copies of the image "
               "(costs 2 × samples − 1 method runs; 7 at the defaults)")
    lower_is_better = {f"{_SMOOTH}.spearman": True, f"{_SMOOTH}.flagged": None}
    defaults = {"threshold": DEFAULT_THRESHOLD, "samples": 4, "noise": 0.1}
    requires = Requirement(WEIGHTS, ("torch", "keras"))
    libraries = ("scipy",)
    reruns_method = True

    def check_params(self, params: Mapping[str, Any]) -> None:
        _check_correlation(_SMOOTH, params["threshold"])
        samples, noise = params["samples"], params["noise"]
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 1000:
            raise InputError(f"{_SMOOTH}'s samples is a count of images per map, 1 to 1000, got {samples!r}")
        if not _is_number(noise) or not 0 <= noise <= 1:
            raise InputError(f"{_SMOOTH}'s noise is a fraction of the image's value range in [0, 1], got {noise!r}")

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int, threshold: float,
                samples: int, noise: float, rerun: Rerun) -> dict[str, float]:
        randomised = model.cache.get_or_compute("sanity.randomised-model", seed,
                                                lambda: randomised_adapter(model, seed))
        images = noisy_copies(explanation.image, samples - 1, noise, seed)
        original = [explanation.attribution] + [rerun(model, explanation, image=image) for image in images]
        random_maps = [_rerun_on(model, randomised, rerun, explanation, image)
                       for image in [None, *images]]
        smooth_original, smooth_random = np.abs(np.mean(original, axis=0)), np.abs(np.mean(random_maps, axis=0))
        for smoothed, which in ((smooth_original, "the original model's"), (smooth_random, "the randomised model's")):
            reason = degenerate_reason(smoothed)
            if reason:
                raise DegenerateMapError(f"{which} averaged map is degenerate ({reason})")
        rho = spearman(smooth_original, smooth_random)
        return {f"{_SMOOTH}.spearman": rho, f"{_SMOOTH}.flagged": float(rho > threshold)}


class Cascading(Metric):
    """Adebayo et al.'s cascading randomisation: the layers that hold weights, split into ``groups`` groups
    from the output down, are re-initialised cumulatively (group 1: the top layers; group ``groups``: every
    layer), and after each step the method runs again and the Spearman ρ of the maps' magnitudes is taken.

    ``sanity.cascading.1`` … ``sanity.cascading.<groups>``: the curve, which should fall fast for a method that
    depends on the model (the top layers decide the class); ``sanity.cascading.auc``: its mean (the area under
    the curve over the share of groups randomised); lower is better. A network with fewer weighted layers than
    ``groups`` gives one value per layer. The weights come from the same seeded re-initialisation as
    ``sanity.randomization`` (its last step is that test's model). Costs ``groups`` runs of the method.
    """

    name = _CASCADING
    summary = ("Adebayo et al.'s cascading randomisation: layers re-initialised output first, in `groups` "
               "cumulative steps; Spearman of |maps| after each and their mean (costs `groups` method runs)")
    lower_is_better = {**{f"{_CASCADING}.{k}": True for k in range(1, MAX_GROUPS + 1)}, f"{_CASCADING}.auc": True}
    defaults = {"groups": 4}
    requires = Requirement(WEIGHTS, ("torch", "keras"))
    libraries = ("scipy",)
    reruns_method = True

    def expected_reruns(self, params: Mapping[str, Any]) -> int:
        """At most ``groups`` runs of the method per image (fewer on a network with fewer weighted layers)."""
        return int(params["groups"])

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """None besides the reruns."""
        return 0

    def check_params(self, params: Mapping[str, Any]) -> None:
        groups = params["groups"]
        if isinstance(groups, bool) or not isinstance(groups, int) or not 1 <= groups <= MAX_GROUPS:
            raise InputError(f"{_CASCADING}'s groups is a count of layer groups, 1 to {MAX_GROUPS}, got {groups!r}")

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int, groups: int,
                rerun: Rerun) -> dict[str, float]:
        steps = model.cache.get_or_compute("sanity.cascading-models", (seed, groups),
                                           lambda: cascading_adapters(model, seed, groups))
        original = np.abs(explanation.attribution)
        curve = []
        for step in steps:
            random_map = np.abs(_rerun_on(model, step, rerun, explanation))
            curve.append(float("nan") if degenerate_reason(random_map) else spearman(original, random_map))
        values = {f"{_CASCADING}.{k}": rho for k, rho in enumerate(curve, start=1)}
        return {**values, f"{_CASCADING}.auc": float(np.mean(curve)) if curve else float("nan")}


def discrete_entropy(values: np.ndarray, bins: int = ENTROPY_BINS) -> float:
    """Shannon entropy (nats) of the histogram of ``values`` in ``bins`` equal bins over their range; 0 for a
    constant map."""
    counts, _ = np.histogram(np.ravel(values), bins=bins)
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log(shares)).sum())


def emprt(original: np.ndarray, random_map: np.ndarray, bins: int = ENTROPY_BINS) -> float:
    """eMPRT: ``(H(random) − H(original)) / H(original)`` of the maps' magnitudes (:func:`discrete_entropy`).

    :raises DegenerateMapError: when either map is degenerate (then the original's entropy is 0, or the
        random map carries nothing to compare).
    """
    for values, which in ((original, "original"), (random_map, "randomised model's")):
        reason = degenerate_reason(values)
        if reason:
            raise DegenerateMapError(f"eMPRT is undefined: the {which} map is degenerate ({reason})")
    before = discrete_entropy(np.abs(original), bins)
    return (discrete_entropy(np.abs(random_map), bins) - before) / before


def noisy_copies(image: np.ndarray, count: int, noise: float, seed: int) -> list[np.ndarray]:
    """``count`` copies of the uint8 ``image`` with Gaussian noise of ``noise`` × its value range, clipped and
    rounded to uint8 (seeded)."""
    rng = np.random.default_rng([seed, 0x5A17])
    spread = noise * float(np.ptp(image))
    return [np.clip(np.rint(image + rng.normal(0.0, spread, image.shape)), 0, 255).astype(np.uint8)
            for _ in range(count)]


def _rerun_on(model: "ModelAdapter", other: "ModelAdapter", rerun: Rerun, explanation: "Explanation",
              image: np.ndarray | None = None) -> np.ndarray:
    """The method's map through ``other`` (a randomised adapter), its forward passes charged to ``model``."""
    other.reset_count()
    try:
        return rerun(other, explanation, image=image)
    finally:
        model.count_forward(other.forward_passes)


def _check_random_map(random_map: np.ndarray) -> None:
    reason = degenerate_reason(random_map)
    if reason:
        raise DegenerateMapError(f"the randomised model's map is degenerate ({reason}): nothing to compare")


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and np.isfinite(value)


def _check_correlation(name: str, threshold: Any) -> None:
    if not _is_number(threshold) or not -1 <= threshold <= 1:
        raise InputError(f"{name}'s threshold is a Spearman correlation in [-1, 1], got {threshold!r}")


def map_ssim(first: np.ndarray, second: np.ndarray) -> float:
    """SSIM of two non-negative maps, each divided by its maximum; ``NaN`` when either is all zero."""
    from skimage.metrics import structural_similarity

    if first.max() <= 0 or second.max() <= 0:
        return float("nan")
    return float(structural_similarity(first / first.max(), second / second.max(), data_range=1.0))


def randomised_adapter(model: "ModelAdapter", seed: int) -> "ModelAdapter":
    """An adapter like ``model`` (same preprocessing and output kind) for a copy of its framework
    model with re-initialised weights."""
    _check_framework(model)
    randomise = randomised_torch if model.framework == "torch" else randomised_keras
    return _adapter_like(model, randomise(model.model, seed))


def cascading_adapters(model: "ModelAdapter", seed: int, groups: int) -> list["ModelAdapter"]:
    """Adapters like ``model`` for the steps of the cascading randomisation: step ``k`` has the weights of
    the top ``k`` of ``groups`` groups of weighted layers (output first) re-initialised as by
    :func:`randomised_adapter` with ``seed``, the others the model's own."""
    _check_framework(model)
    steps = cascading_torch if model.framework == "torch" else cascading_keras
    return [_adapter_like(model, network) for network in steps(model.model, seed, groups)]


def layer_groups(names: list[str], groups: int) -> list[list[str]]:
    """``names`` (weighted layers, input first) in at most ``groups`` groups from the output down."""
    top_first = names[::-1]
    return [list(part) for part in np.array_split(np.array(top_first, dtype=object), min(groups, len(names)))
            if len(part)]


def cascading_torch(module: Any, seed: int, groups: int) -> list[Any]:
    """Copies of ``module`` with the top 1, 2, … ``groups`` groups of its weighted modules (those with
    parameters of their own, in registration order) taken from :func:`randomised_torch`."""
    import torch

    randomised = dict(randomised_torch(module, seed).named_modules())
    weighted = [name for name, layer in module.named_modules()
                if any(True for _ in layer.parameters(recurse=False))]
    networks, network = [], copy.deepcopy(module)
    for group in layer_groups(weighted, groups):
        network = copy.deepcopy(network)
        layers = dict(network.named_modules())
        with torch.no_grad():
            for name in group:
                fresh = randomised[name]
                for key, value in itertools.chain(layers[name].named_parameters(recurse=False),
                                                  layers[name].named_buffers(recurse=False)):
                    value.copy_(getattr(fresh, key))
        networks.append(network)
    return networks


def cascading_keras(model: Any, seed: int, groups: int) -> list[Any]:
    """Clones of ``model`` with the top 1, 2, … ``groups`` groups of its layers that hold weights (in the
    model's layer order) given the weights of :func:`randomised_keras`."""
    import keras

    randomised = randomised_keras(model, seed)
    weighted = [layer.name for layer in model.layers if layer.weights]
    networks, done = [], []
    for group in layer_groups(weighted, groups):
        done += group
        try:
            network = keras.models.clone_model(model)
        except Exception as exc:
            raise ModelError(f"{_CASCADING} could not clone the Keras model ({type(exc).__name__}: {exc})") from exc
        network.set_weights(model.get_weights())
        for name in done:
            network.get_layer(name).set_weights(randomised.get_layer(name).get_weights())
        networks.append(network)
    return networks


def _check_framework(model: "ModelAdapter") -> None:
    if model.framework not in ("torch", "keras"):
        raise ModelError(f"{_PREFIX} needs a torch or keras model to randomise, got a {model.framework!r} model")


def _adapter_like(model: "ModelAdapter", network: Any) -> "ModelAdapter":
    if model.framework == "torch":
        from xaihub.models.torch_adapter import TorchAdapter

        adapter: "ModelAdapter" = TorchAdapter(network, model.options)
    else:
        from xaihub.models.keras_adapter import KerasAdapter

        adapter = KerasAdapter(network, model.options)
    adapter.output_kind = model.output_kind  # random logits must not be mistaken for probabilities
    return adapter


def randomised_torch(module: Any, seed: int) -> Any:
    """A deep copy of ``module`` with every parameter re-initialised (seeded; global random state kept)."""
    import torch

    network = copy.deepcopy(module)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        reset: set[int] = set()
        for layer in network.modules():
            if callable(getattr(layer, "reset_parameters", None)):
                layer.reset_parameters()
                reset.update(id(p) for p in layer.parameters(recurse=False))
        for parameter in network.parameters():
            if id(parameter) not in reset:
                spread = float(parameter.std()) if parameter.numel() > 1 else 0.0
                parameter.normal_(0.0, spread if spread > 0 else 0.02)
    return network


def randomised_keras(model: Any, seed: int) -> Any:
    """``keras.models.clone_model(model)`` with fresh weights from each layer's initialisers, seeded."""
    import keras

    seeds = itertools.count(seed)

    def fresh(layer: Any) -> Any:
        config = layer.get_config()
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
                config[key] = {**value, "config": {**value["config"], "seed": next(seeds)}}
        return layer.__class__.from_config(config)

    try:
        return keras.models.clone_model(model, clone_function=fresh)
    except Exception as exc:
        raise ModelError(f"{_PREFIX} could not clone the Keras model ({type(exc).__name__}: {exc}); "
                         "only Sequential and functional models can be cloned") from exc
