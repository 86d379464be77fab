"""``shap.gradient``: shap's GradientExplainer (expected gradients) on torch and Keras models."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, Requirement
from xaihub.core.params import Choice, Integer
from xaihub.core.seeding import seeded_global_numpy
from xaihub.models import GradientAdapter
from xaihub_shap.layout import values_per_output

BACKGROUNDS = ("zero", "blur")


class ShapGradient(Explainer):
    """Expected gradients of the target probabilities w.r.t. the adapter's input space.

    The background is one black image (``"zero"``) or ``n_background`` copies of the image
    blurred with Gaussian sigmas 2, 4, 8, ... px (``"blur"``). Gradients are taken of the
    probabilities ``model.predict`` reports (softmax/sigmoid applied to logits), with respect to
    the image's pixels when the preprocessing is declared (else the preprocessed model input);
    ``channels`` keeps the per-channel map and ``attribution`` sums it.
    """

    name = "shap.gradient"
    family = "expected_gradients"
    summary = "shap's GradientExplainer (expected gradients) for torch and Keras models"
    requires = Requirement(GRADIENTS, ("torch", "keras"))
    libraries = ("shap",)
    defaults: dict[str, Any] = {"nsamples": 200, "background": "zero", "n_background": 4, "batch_size": 50}
    samples_parameter = "nsamples"
    constraints = {"nsamples": Integer(1, 100_000), "background": Choice(*BACKGROUNDS),
                   "n_background": Integer(1, 64), "batch_size": Integer(1, 4096)}

    def expected_forward_passes(self, params, targets):
        """``nsamples`` gradients per target and one probe."""
        return int(params["nsamples"]) * targets + 1

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                nsamples: int, background: str, n_background: int, batch_size: int) -> list[Explanation]:
        baselines = _background_images(image, background, n_background)
        run = _explain_torch if model.framework == "torch" else _explain_keras
        with seeded_global_numpy(seed):  # shap reseeds numpy's global state; the caller's is put back
            values, feature_shape = run(model, image, baselines, list(targets), nsamples, batch_size, seed)
        per_target = values_per_output(values, len(targets), feature_shape)
        if model.framework == "torch":
            per_target = np.moveaxis(per_target, 1, -1)  # T×C×h×w → T×h×w×C
        height, width = image.shape[:2]
        explanations = []
        for i, target in enumerate(targets):
            channels = model.to_image(per_target[i], height, width, conserve=True)
            explanations.append(Explanation(
                target=target, attribution=channels.sum(axis=2), channels=channels,
                extras={"background": background, "n_background": len(baselines), "output": "probabilities",
                        "input_space": model.input_space}))
        return explanations


def _background_images(image: np.ndarray, background: str, n_background: int) -> np.ndarray:
    if background == "zero":
        return np.zeros((1, *image.shape), np.float32)
    from skimage.filters import gaussian

    return np.stack([
        gaussian(image.astype(np.float32), sigma=2.0 ** (k + 1), channel_axis=-1, preserve_range=True)
        for k in range(n_background)
    ]).astype(np.float32)


def _explain_torch(model: GradientAdapter, image: np.ndarray, baselines: np.ndarray, targets: list[int],
                   nsamples: int, batch_size: int, seed: int) -> tuple[Any, tuple[int, ...]]:
    import shap

    from xaihub.models.torch_state import restored
    from xaihub_shap.torch_targets import TargetProbabilities

    inputs = model.differentiable_input(image[None])
    wrapped = TargetProbabilities(model, targets)
    with restored(model.model):  # shap calls eval() and zero_grad() and may leave hooks
        explainer = shap.GradientExplainer(wrapped, model.differentiable_input(baselines), batch_size=batch_size)
        values = explainer.shap_values(inputs, nsamples=nsamples, rseed=seed % 2**31)
    return values, tuple(inputs.shape[1:])


def _explain_keras(model: GradientAdapter, image: np.ndarray, baselines: np.ndarray, targets: list[int],
                   nsamples: int, batch_size: int, seed: int) -> tuple[Any, tuple[int, ...]]:
    import keras
    import shap

    inputs = np.asarray(model.differentiable_input(image[None]))
    scorer = model.scores_model(*image.shape[:2])
    source = keras.Input(shape=tuple(inputs.shape[1:]))
    probabilities = model.probabilities(scorer(source))
    # shap builds the model from (inputs, output) itself and reads the output width from the tensor
    wrapped = ([source], keras.ops.take(probabilities, targets, axis=1))
    explainer = shap.GradientExplainer(wrapped, np.asarray(model.differentiable_input(baselines)), batch_size=batch_size)
    values = explainer.shap_values(inputs, nsamples=nsamples, rseed=seed % 2**31)
    # shap evaluates the input once, then nsamples interpolated images per target (inside its own graph)
    model.count_forward(len(inputs) + nsamples * len(targets))
    return values, tuple(inputs.shape[1:])
