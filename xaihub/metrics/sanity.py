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

if TYPE_CHECKING:
    from xaihub.core.explanation import Explanation
    from xaihub.models import ModelAdapter

DEFAULT_THRESHOLD = 0.5
_PREFIX = "sanity.randomization"


class Randomization(Metric):
    """Adebayo et al.'s model-parameter randomisation test for one explanation."""

    name = _PREFIX
    summary = ("the method run again on a copy of the model with re-initialised weights; Spearman and SSIM "
               "between the maps' magnitudes, flagged above `threshold` (costs one method run)")
    lower_is_better = {f"{_PREFIX}.spearman": True, f"{_PREFIX}.ssim": True, f"{_PREFIX}.flagged": None}
    defaults = {"threshold": DEFAULT_THRESHOLD}
    requires = Requirement(WEIGHTS, ("torch", "keras"))
    libraries = ("scikit-image", "scipy")
    reruns_method = True

    def check_params(self, params: Mapping[str, Any]) -> None:
        threshold = params["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
            raise InputError(f"{_PREFIX}'s threshold is a Spearman correlation in [-1, 1], got {threshold!r}")

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int, threshold: float,
                rerun: Rerun) -> dict[str, float]:
        randomised = model.cache.get_or_compute("sanity.randomised-model", seed,
                                                lambda: randomised_adapter(model, seed))
        randomised.reset_count()
        try:
            random_map = rerun(randomised, explanation)
        finally:
            model.count_forward(randomised.forward_passes)
        original, random_map = np.abs(explanation.attribution), np.abs(random_map)
        rho = spearman(original, random_map)
        return {f"{_PREFIX}.spearman": rho, f"{_PREFIX}.ssim": map_ssim(original, random_map),
                f"{_PREFIX}.flagged": float(rho > threshold)}


def map_ssim(first: np.ndarray, second: np.ndarray) -> float:
    """SSIM of two non-negative maps, each divided by its maximum; ``NaN`` when either is all zero."""
    from skimage.metrics import structural_similarity

    if first.max() <= 0 or second.max() <= 0:
        return float("nan")
    return float(structural_similarity(first / first.max(), second / second.max(), data_range=1.0))


def randomised_adapter(model: "ModelAdapter", seed: int) -> "ModelAdapter":
    """An adapter like ``model`` (same preprocessing and output kind) for a copy of its framework
    model with re-initialised weights."""
    if model.framework == "torch":
        from xaihub.models.torch_adapter import TorchAdapter

        randomised = TorchAdapter(randomised_torch(model.model, seed), model.options)
    elif model.framework == "keras":
        from xaihub.models.keras_adapter import KerasAdapter

        randomised = KerasAdapter(randomised_keras(model.model, seed), model.options)
    else:
        raise ModelError(f"{_PREFIX} needs a torch or keras model to randomise, got a {model.framework!r} model")
    randomised.output_kind = model.output_kind  # random logits must not be mistaken for probabilities
    return randomised


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
