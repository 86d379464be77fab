"""Xplique's LIME and Kernel SHAP over xaihub's shared superpixels, on any model.

The superpixels are those every superpixel method takes (:func:`xaihub.core.superpixels.superpixels_for`:
``segmentation`` ``"auto"``, sized to the image, ``"quickshift"``, ``"slic"``, ``"felzenszwalb"`` with
``segmentation_params``, or given ``segments``), computed once per ``explain`` call and handed to
Xplique through its ``map_to_interpret_space`` hook. Switched-off superpixels show
``ref_value`` (0: black, as ``native.lime``). Both explain the target's probability, and every target
gets the same coalitions, so they share the model's predictions.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xaihub import Explanation
from xaihub.core.params import Integer, Real
from xaihub.core.superpixels import (
    SEGMENTATION_DEFAULTS,
    few_superpixels_warning,
    require_superpixels,
    segmentation_constraints,
    superpixels_for,
)
from xaihub_xplique.perturbations import PerturbationMethod


class SurrogateMethod(PerturbationMethod):
    """A linear surrogate over superpixels: the map paints each superpixel with its coefficient."""

    libraries = ("xplique", "scikit-image", "scikit-learn")
    min_superpixels: int = 1
    """Fewer superpixels are refused before any forward pass (see :func:`xaihub.core.superpixels.require_superpixels`)."""
    few_superpixels_reason = ""

    def expected_forward_passes(self, params, targets):
        """``nb_samples`` perturbed images, shared by every target."""
        return int(params["nb_samples"])

    def run(self, model, image, targets, seed, params):
        segments = superpixels_for(image, params, seed, model.cache)
        require_superpixels(segments, self.name, self.min_superpixels, self.few_superpixels_reason)
        explanations = super().run(model, image, targets, seed, {**params, "segments": segments})
        return [_painted(explanation, segments) for explanation in explanations]

    def build(self, predictions, model, image, seed, params, extras):
        segments = params["segments"]
        extras["n_segments"] = int(segments.max()) + 1
        warning = few_superpixels_warning(segments)
        if warning:
            extras["warning"] = warning
        return self.surrogate(predictions, model.images_per_batch(*image.shape[:2]), _fixed_mapping(segments),
                              np.full(image.shape[2], float(params["ref_value"]), np.float32), seed, params)

    def surrogate(self, predictions: Any, batch_size: int, mapping: Callable[[Any], Any], ref_value: np.ndarray,
                  seed: int, params: dict[str, Any]) -> Any:
        """Xplique's explainer on ``predictions`` with the superpixel ``mapping`` and fill ``ref_value``."""
        raise NotImplementedError


class XpliqueLime(SurrogateMethod):
    """LIME (Ribeiro et al. 2016) as Xplique runs it, weighted and fitted as ``native.lime``:
    ``nb_samples`` (150, Xplique's default) coalitions, each superpixel on with probability ``prob``,
    weighted by LIME's kernel
    ``sqrt(exp(-d² / kernel_width²))`` of the cosine distance ``d`` between the coalition and the
    all-on one (width 0.25); a ridge regression (``alpha`` 1, with intercept) gives each superpixel's
    weight. Xplique's own defaults (euclidean distance between images, width 45, ``alpha`` 2) are
    made for inputs in [0, 1]: over 0–255 pixels every weight would vanish."""

    name = "xplique.lime"
    family = "lime"
    summary = "Xplique LIME over the shared superpixels, black fill (any model)"
    xplique_class = "xplique.attributions:Lime"
    defaults: dict[str, Any] = {"nb_samples": 150, "prob": 0.5, "kernel_width": 0.25, "alpha": 1.0, "ref_value": 0.0,
                                **SEGMENTATION_DEFAULTS}
    samples_parameter = "nb_samples"
    constraints = {"nb_samples": Integer(2, 100_000), "prob": Real(0, 1, low_open=True, high_open=True),
                   "kernel_width": Real(0, low_open=True), "alpha": Real(0), "ref_value": Real(0, 255),
                   **segmentation_constraints()}

    def surrogate(self, predictions, batch_size, mapping, ref_value, seed, params):
        from sklearn.linear_model import Ridge

        return self.xplique_type()(
            predictions, batch_size=batch_size, nb_samples=params["nb_samples"], map_to_interpret_space=mapping,
            ref_value=ref_value, interpretable_model=Ridge(alpha=params["alpha"]),
            similarity_kernel=_lime_kernel(params["kernel_width"]),
            pertub_func=_seeded_coalitions(params["prob"], seed),
        )


class XpliqueKernelShap(SurrogateMethod):
    """Kernel SHAP (Lundberg & Lee 2017) as Xplique runs it: ``nb_samples`` coalitions drawn with the
    Shapley kernel's distribution of sizes, a plain linear regression. Xplique draws them from
    TensorFlow's global random ops; each target draws them again from ``seed``, so all get the same.
    Fewer than 3 superpixels are refused upfront: Xplique draws only coalitions of 1 to M−1 superpixels
    (never all or none) and fits an intercept, so with one superpixel every coalition is empty (all weights 0)
    and with two each shows exactly one, collinear with the intercept (the weights are arbitrary)."""

    name = "xplique.kernelshap"
    family = "kernel_shap"
    summary = "Xplique Kernel SHAP over the shared superpixels, black fill (any model)"
    xplique_class = "xplique.attributions:KernelShap"
    draws_in_tensorflow = True
    defaults: dict[str, Any] = {"nb_samples": 800, "ref_value": 0.0, **SEGMENTATION_DEFAULTS}
    samples_parameter = "nb_samples"
    constraints = {"nb_samples": Integer(2, 100_000), "ref_value": Real(0, 255), **segmentation_constraints()}
    min_superpixels = 3
    few_superpixels_reason = ("Xplique's KernelShap draws coalitions of 1 to M−1 superpixels and fits an intercept: "
                              "with fewer than 3 the regression cannot tell the superpixels apart")

    def surrogate(self, predictions, batch_size, mapping, ref_value, seed, params):
        explainer = self.xplique_type()(predictions, batch_size=batch_size, nb_samples=params["nb_samples"],
                                        map_to_interpret_space=mapping, ref_value=ref_value)
        explainer.pertub_func = _same_draws_each_call(explainer.pertub_func, seed)
        return explainer


def _painted(explanation: Explanation, segments: np.ndarray) -> Explanation:
    """Xplique's map (constant on each superpixel) as superpixel weights painted on the segments."""
    flat = segments.ravel()
    weights = np.bincount(flat, explanation.attribution.ravel()) / np.maximum(np.bincount(flat), 1)
    explanation.segments, explanation.segment_weights = segments, weights.astype(np.float32)
    explanation.attribution = explanation.segment_weights[segments]
    return explanation


def _fixed_mapping(segments: np.ndarray) -> Callable[[Any], Any]:
    """Xplique's ``map_to_interpret_space``: every copy of the image gets the given superpixels."""
    import tensorflow as tf

    mapping = tf.constant(segments, dtype=tf.int32)
    return lambda _input: mapping


def _lime_kernel(width: float) -> Callable[[Any, Any, Any], Any]:
    """LIME's weight of a coalition ``z`` over ``n`` superpixels: cosine distance to the all-on
    coalition ``d = 1 − sqrt(|z| / n)``, kernel ``sqrt(exp(−d² / width²))`` (Xplique's signature)."""
    import tensorflow as tf

    def kernel(_original: Any, coalitions: Any, _perturbed: Any) -> Any:
        on = tf.cast(coalitions, tf.float32)
        distance = 1.0 - tf.sqrt(tf.reduce_mean(on, axis=1))
        return tf.sqrt(tf.exp(-(distance**2) / width**2))

    return kernel


def _seeded_coalitions(prob: float, seed: int) -> Callable[[Any, int], Any]:
    """Xplique's ``pertub_func``: ``nb_samples`` coalitions, each superpixel on with ``prob``, drawn
    from ``seed`` (the same for every copy of the image)."""
    import tensorflow as tf

    def draw(num_features: Any, nb_samples: int) -> Any:
        rng = np.random.default_rng(seed)
        return tf.constant(rng.random((int(nb_samples), int(np.squeeze(num_features)))) < prob, dtype=tf.int32)

    return draw


def _same_draws_each_call(draw: Callable[[Any, int], Any], seed: int) -> Callable[[Any, int], Any]:
    """``draw`` with TensorFlow's global seed reset before each call, so each copy draws the same."""
    import tensorflow as tf

    def again(num_features: Any, nb_samples: int) -> Any:
        tf.random.set_seed(seed % 2**31)
        return draw(num_features, nb_samples)

    return again
