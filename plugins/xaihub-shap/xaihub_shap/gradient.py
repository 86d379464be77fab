"""``shap.gradient``: shap's GradientExplainer (expected gradients) on torch and Keras models."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, Requirement
from xaihub.models import ModelAdapter
from xaihub_shap.checks import check_choice, check_int
from xaihub_shap.layout import to_channels_last, values_per_output
from xaihub.seeding import seeded_global_numpy

BACKGROUNDS = ("zero", "blur")


class ShapGradient(Explainer):
    """Expected gradients of the target probabilities w.r.t. the preprocessed model input.

    The background is one black image (``"zero"``) or ``n_background`` copies of the image
    blurred with Gaussian sigmas 2, 4, 8, ... px (``"blur"``). Gradients are taken of the
    probabilities ``model.predict`` reports (softmax/sigmoid applied to logits), in the
    model's input space; ``channels`` keeps the per-channel map and ``attribution`` sums it.
    """

    name = "shap.gradient"

    family = "expected_gradients"
    summary = "shap's GradientExplainer (expected gradients) for torch and Keras models"
    requires = Requirement(GRADIENTS, ("torch", "keras"))
    libraries = ("shap",)
    defaults: dict[str, Any] = {"nsamples": 200, "background": "zero", "n_background": 4, "batch_size": 50}

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                nsamples: int, background: str, n_background: int, batch_size: int) -> list[Explanation]:
        check_int("nsamples", nsamples, minimum=1)
        check_choice("background", background, BACKGROUNDS)
        check_int("n_background", n_background, minimum=1)
        check_int("batch_size", batch_size, minimum=1)
        if model.output_kind is None:
            model.predict(image[None])  # the adapter learns whether the model returns logits
        baselines = _background_images(image, background, n_background)
        run = _explain_torch if model.framework == "torch" else _explain_keras
        with seeded_global_numpy(seed):  # shap reseeds numpy's global state; the caller's is put back
            values, feature_shape, images_forward = run(model, image, baselines, list(targets),
                                                        nsamples, batch_size, seed)
        model.count_forward(images_forward)
        per_target = values_per_output(values, len(targets), feature_shape)
        channels = to_channels_last(per_target, *image.shape[:2]).astype(np.float32)
        return [
            Explanation(target=target, attribution=channels[i].sum(axis=2), channels=channels[i],
                        extras={"background": background, "n_background": len(baselines),
                                "output": "probabilities", "input_space": "preprocessed"})
            for i, target in enumerate(targets)
        ]


def _background_images(image: np.ndarray, background: str, n_background: int) -> np.ndarray:
    if background == "zero":
        return np.zeros((1, *image.shape), np.float32)
    from skimage.filters import gaussian

    return np.stack([
        gaussian(image.astype(np.float32), sigma=2.0 ** (k + 1), channel_axis=-1, preserve_range=True)
        for k in range(n_background)
    ]).astype(np.float32)


def _explain_torch(model: ModelAdapter, image: np.ndarray, baselines: np.ndarray, targets: list[int],
                   nsamples: int, batch_size: int, seed: int) -> tuple[Any, tuple[int, ...], int]:
    import shap

    from xaihub_shap.torch_probabilities import TargetProbabilities
    from xaihub_shap.torch_state import module_restored

    inputs = model.to_tensor(image[None])
    wrapped = TargetProbabilities(model.model, targets, model.output_kind)
    with module_restored(model.model):
        explainer = shap.GradientExplainer(wrapped, model.to_tensor(baselines), batch_size=batch_size)
        values = explainer.shap_values(inputs, nsamples=nsamples, rseed=seed % 2**31)
    return values, tuple(inputs.shape[1:]), wrapped.images_seen


def _explain_keras(model: ModelAdapter, image: np.ndarray, baselines: np.ndarray, targets: list[int],
                   nsamples: int, batch_size: int, seed: int) -> tuple[Any, tuple[int, ...], int]:
    import keras
    import shap

    inputs = model.to_tensor(image[None])
    source = keras.Input(shape=tuple(inputs.shape[1:]))
    scores = model.model(source, training=False)
    if model.output_kind == "logits":
        scores = keras.ops.softmax(scores, axis=-1)
    elif model.output_kind == "multilabel-logits":
        scores = keras.ops.sigmoid(scores)
    # shap builds the model from (inputs, output) itself and reads the output width from the tensor
    wrapped = ([source], keras.ops.take(scores, targets, axis=1))
    explainer = shap.GradientExplainer(wrapped, np.asarray(model.to_tensor(baselines)), batch_size=batch_size)
    values = explainer.shap_values(np.asarray(inputs), nsamples=nsamples, rseed=seed % 2**31)
    # shap evaluates the input once, then nsamples interpolated images per target
    return values, tuple(inputs.shape[1:]), len(inputs) + nsamples * len(targets)
