"""The OmniXAI vision methods, one :class:`xaihub.Explainer` each.

Every gradient method runs on a private deep copy of a torch model or on a view of the Keras
model (see :mod:`xaihub_omnixai.isolation`); each target is one copy
of the image in one OmniXAI batch, with ``y`` the targets, so OmniXAI answers exactly
the classes asked for.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Sequence

import numpy as np

from xaihub import BLACK_BOX, GRADIENTS, Explainer, Explanation, MethodUnavailableError, ModelError, Requirement
from xaihub.core.maps import resize_map
from xaihub.core.params import Integer, Real, String
from xaihub.core.seeding import seeded_global_numpy
from xaihub.core.superpixels import segment, segmentation_constraints
from xaihub.models import GradientAdapter, ModelAdapter
from xaihub.models.token_layout import LayerObject, Reshape
from xaihub_omnixai.bridge import omnixai_images, omnixai_preprocess, quiet, target_layer
from xaihub_omnixai.isolation import check_layer_graph, keras_view, private_model

_GRADIENT_FRAMEWORKS = Requirement(GRADIENTS, ("torch", "keras"))


class OmniXaiMethod(Explainer):
    """Base of the gradient-based OmniXAI methods: build OmniXAI's explainer, explain, map its output."""

    #: ``"module:Class"`` of the OmniXAI explainer.
    omnixai_class: ClassVar[str]
    #: Whether OmniXAI reads the model's layers (then a Keras model must have a graph of them).
    reads_layers: ClassVar[bool] = False
    requires = _GRADIENT_FRAMEWORKS
    libraries = ("omnixai",)

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        if self.reads_layers:
            check_layer_graph(model, self.name)

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        extras: dict[str, Any] = {}
        with quiet(), private_model(model, self.name, image, self.reads_layers) as private, seeded_global_numpy(seed):
            network = self.prepared(private, model, image)
            omnixai_type = _load(self.omnixai_class)
            preprocess = omnixai_preprocess(model)
            explainer = self.build(omnixai_type, network, model, preprocess, params, extras, image)
            entries = []
            for group in self.target_groups(model, targets):
                result = explainer.explain(omnixai_images(image, len(group)), y=group, **self.explain_options(params))
                entries += list(result.get_explanations())
            input_size = _spatial_size(preprocess(omnixai_images(image, 1)), model.framework)
        return [
            _explanation(self.name, target, entry, image, input_size, extras)
            for target, entry in zip(targets, entries)
        ]

    def build(self, omnixai_type: type, network: Any, model: GradientAdapter, preprocess: Any,
              params: dict[str, Any], extras: dict[str, Any], image: np.ndarray) -> Any:
        return omnixai_type(model=network, preprocess_function=preprocess, mode="classification")

    def explain_options(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def target_groups(self, model: GradientAdapter, targets: Sequence[int]) -> list[list[int]]:
        """The targets of each call of OmniXAI's ``explain`` (one copy of the image per target): all in one."""
        return [[int(t) for t in targets]]

    def prepared(self, network: Any, model: GradientAdapter, image: np.ndarray) -> Any:
        """The model OmniXAI gets (a private copy for torch), made ready for this method."""
        return network


class OmniXaiCam(OmniXaiMethod):
    """A CAM method: the ``layer`` parameter names the target layer; the choice is in ``extras["layer"]``.

    OmniXAI min-max normalises each CAM to ``[0, 1]``; the attribution is that map.
    """

    reads_layers = True
    #: Whether OmniXAI's TensorFlow version differentiates the sum of every class asked for in one call
    #: (its Grad-CAM family's ``tf.gather(predictions, y, axis=1)`` takes every ``y`` for every image), so
    #: that a Keras model gets one call per target.
    sums_targets_on_keras: ClassVar[bool] = True
    defaults: dict[str, Any] = {"layer": None, "reshape": None}
    constraints = {"layer": [None, String(meaning="a layer name"), LayerObject()], "reshape": [None, Reshape()]}

    def target_groups(self, model, targets):
        if model.framework == "keras" and self.sums_targets_on_keras:
            return [[int(t)] for t in targets]
        return super().target_groups(model, targets)

    def expected_forward_passes(self, params, targets):
        """One probe of the layer, then one gradient per target."""
        return 1 + targets

    def build(self, omnixai_type, network, model, preprocess, params, extras, image):
        network, module, extras["layer"] = target_layer(model, network, params["layer"], image, params["reshape"])
        return omnixai_type(model=network, target_layer=module, preprocess_function=preprocess, mode="classification")


class OmniGradCam(OmniXaiCam):
    name = "omnixai.gradcam"
    family = "grad_cam"
    summary = "OmniXAI Grad-CAM (torch, Keras) on a named or the last conv layer"
    omnixai_class = "omnixai.explainers.vision.specific.gradcam.gradcam:GradCAM"


class OmniGradCamPlusPlus(OmniXaiCam):
    name = "omnixai.gradcampp"
    family = "grad_cam_pp"
    summary = "OmniXAI Grad-CAM++ on a named or the last conv layer"
    omnixai_class = "omnixai.explainers.vision.specific.gradcam.gradcam:GradCAMPlus"


class OmniLayerCam(OmniXaiCam):
    name = "omnixai.layercam"
    family = "layer_cam"
    summary = "OmniXAI Layer-CAM on a named or the last conv layer"
    omnixai_class = "omnixai.explainers.vision.specific.gradcam.gradcam:LayerCAM"


class OmniScoreCam(OmniXaiCam):
    name = "omnixai.scorecam"
    family = "score_cam"
    summary = "OmniXAI Score-CAM (gradient-free CAM weights) on a named or the last conv layer"
    omnixai_class = "omnixai.explainers.vision.specific.scorecam.scorecam:ScoreCAM"
    sums_targets_on_keras = False  # it reads each image's own class

    def expected_forward_passes(self, params, targets):
        """Unknown upfront: one masked image per channel of the layer."""
        return None


class OmniIntegratedGradients(OmniXaiMethod):
    """OmniXAI's IG, averaged over 10 random-noise baselines (its default), ``steps`` per path."""

    name = "omnixai.ig"
    family = "integrated_gradients"
    summary = "OmniXAI Integrated Gradients averaged over random baselines"
    omnixai_class = "omnixai.explainers.vision.specific.ig:IntegratedGradientImage"
    defaults: dict[str, Any] = {"steps": 50}
    samples_parameter = "steps"
    constraints = {"steps": Integer(1, 4096)}

    def expected_forward_passes(self, params, targets):
        """OmniXAI averages 10 random baselines: ``10 × steps`` gradients per target."""
        return 10 * int(params["steps"]) * targets

    def explain_options(self, params):
        return {"steps": params["steps"]}


class OmniSmoothGrad(OmniXaiMethod):
    """OmniXAI SmoothGrad: gradients averaged over ``num_samples`` noisy copies (noise ``sigma``)."""

    name = "omnixai.smoothgrad"
    family = "smoothgrad"
    summary = "OmniXAI SmoothGrad"
    omnixai_class = "omnixai.explainers.vision.specific.smoothgrad:SmoothGrad"
    defaults: dict[str, Any] = {"num_samples": 50, "sigma": 0.1}
    samples_parameter = "num_samples"
    constraints = {"num_samples": Integer(1, 10_000), "sigma": Real(0, low_open=True)}

    def expected_forward_passes(self, params, targets):
        """``num_samples`` noisy copies and the image, per target (at most)."""
        return (int(params["num_samples"]) + 1) * targets

    def explain_options(self, params):
        return {"num_samples": params["num_samples"], "sigma": params["sigma"]}


class OmniGuidedBackprop(OmniXaiMethod):
    """OmniXAI guided backpropagation: only positive gradients pass back through rectifiers that were active.

    On Keras, OmniXAI rewrites ``ReLU`` layers (any ``max_value``: a ``ReLU6`` passes gradients where its
    input exceeds 6, as Xplique's) and ``activation="relu"``. On torch it rewrites ``nn.ReLU`` modules
    only: a model with other activation modules in their place (:data:`UNGUIDED_TORCH_ACTIVATIONS`:
    ``ReLU6``, ``SiLU``, …) or with no ``nn.ReLU`` would get their plain gradient, which is not guided
    backpropagation, so it is refused upfront.
    """

    name = "omnixai.guidedbp"
    family = "guided_backprop"
    summary = "OmniXAI guided backpropagation"
    omnixai_class = "omnixai.explainers.vision.specific.guided_bp:GuidedBP"
    reads_layers = True  # OmniXAI clones a Keras model to swap its activations
    defaults: dict[str, Any] = {}

    def expected_forward_passes(self, params, targets):
        """A forward and a rectified backward per target (at most)."""
        return 2 * targets

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        if model.framework != "torch":
            return
        kinds = {type(module).__name__ for module in model.model.modules()}
        unguided = sorted(kinds & set(UNGUIDED_TORCH_ACTIVATIONS))
        if unguided or "ReLU" not in kinds:
            found = f"has {', '.join(unguided)} modules" if unguided else "has no nn.ReLU module"
            raise MethodUnavailableError(
                f"{self.name}: OmniXAI rewrites the gradient of nn.ReLU modules only, and this model {found}: "
                "their plain gradient would pass, which is not guided backpropagation")


UNGUIDED_TORCH_ACTIVATIONS = ("ReLU6", "LeakyReLU", "PReLU", "RReLU", "Hardtanh", "ELU", "SELU", "CELU", "GELU",
                              "SiLU", "Mish", "Hardswish", "Softplus")
"""torch activation modules that stand where a ReLU would and that OmniXAI's guided backpropagation leaves alone."""


class OmniShap(OmniXaiMethod):
    """OmniXAI's SHAP: shap's DeepExplainer against a constant image of the mean pixel value.

    OmniXAI 1.3.1 mis-indexes the output of shap >= 0.45; :mod:`xaihub_omnixai.shap_compat`
    hands it per-class values for the classes up to the lowest-ranked target (not all of a
    model's classes), with shap's DeepLIFT rules lent to element-wise activations and depthwise
    convolutions. A torch module called several times per forward pass gets one copy per call in
    OmniXAI's private model (shap keeps one input per module). ``extras["additivity_gap"]`` is
    ``f(x) − E[f(background)] − Σ values``; a gap over 1% of the score's range fails the target. A torch
    layer or TF operation shap's DeepExplainer has no rule for is refused before any work.
    """

    name = "omnixai.shap"
    family = "deeplift_shap"
    summary = "OmniXAI SHAP (shap DeepExplainer, mean-colour background)"
    omnixai_class = "omnixai.explainers.vision.agnostic.shap:ShapImage"
    libraries = ("omnixai", "shap")
    defaults: dict[str, Any] = {}

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        if model.framework == "keras":
            from xaihub_omnixai.shap_compat import unsupported_tf_ops

            with quiet():
                unsupported = unsupported_tf_ops(keras_view(model, image, layer_graph=False))
            if unsupported:
                raise MethodUnavailableError(
                    f"{self.name}: shap's TF DeepExplainer has no rule for the TF operation(s) "
                    f"{', '.join(unsupported)} of this model")
        if model.framework == "torch":
            from xaihub_omnixai.shap_compat import unsupported_torch_layers

            unsupported = unsupported_torch_layers(model.model)
            if unsupported:
                raise MethodUnavailableError(
                    f"{self.name}: shap's DeepExplainer has no rule for {', '.join(unsupported[:4])}"
                    f"{f' and {len(unsupported) - 4} more' if len(unsupported) > 4 else ''} (its values would not "
                    "be DeepLIFT's); it handles convolutions, linear layers, average and (non-adaptive) max "
                    "pooling, batch norm and element-wise activations")

    def prepared(self, network: Any, model: GradientAdapter, image: np.ndarray) -> Any:
        if model.framework != "torch":
            return network
        from xaihub.models.torch_unshare import unshared, uses_per_pass

        counts = uses_per_pass(network, lambda: network(model.model_input(image[None])))  # counted by the copy
        return unshared(network, counts)

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        from xaihub_omnixai.shap_compat import per_class_values

        ranks = np.argsort(-model.predict(image[None])[0], kind="stable")
        ranked = 1 + max(int(np.flatnonzero(ranks == target)[0]) for target in targets)
        with per_class_values(ranked) as recorder:
            explanations = super().explain(model, image, targets, seed=seed, **params)
        for row, explanation in enumerate(explanations):
            gap, total = recorder.gaps[(row, explanation.target)]
            explanation.extras["additivity_gap"] = gap
            if abs(gap) > 0.01 * max(1.0, abs(total)):
                raise ModelError(f"omnixai.shap: shap's values for class {explanation.target} miss the score "
                                 f"difference by {gap:.4g}; an operation of the model has no DeepLIFT rule in shap")
        return explanations


class OmniLime(Explainer):
    """OmniXAI's LIME on ``model.predict``: any model.

    OmniXAI shrinks images larger than 256 pixels a side first, then segments them: with
    ``segmentation="auto"`` (the default) into superpixels sized to that image
    (:func:`xaihub.core.superpixels.segment`), with ``"quickshift"`` by lime's own quickshift wrapper, as
    OmniXAI does by default (``segmentation_params`` apply to ``"auto"``, ``"slic"`` and
    ``"felzenszwalb"``). OmniXAI keeps lime's top ``num_features`` superpixels per class as a mask:
    the attribution is ``+1`` on those supporting the target, ``−1`` on those against it.
    Hidden superpixels are filled with ``hide_color`` (default black); lime's own default,
    ``None``, fills a superpixel with its mean colour, which leaves a uniform object as it was.
    """

    name = "omnixai.lime"
    family = "lime"
    summary = "OmniXAI LIME: ±1 on the top superpixels for and against the target"
    requires = Requirement(BLACK_BOX)
    libraries = ("omnixai", "lime")
    defaults: dict[str, Any] = {"num_samples": 1000, "num_features": 5, "batch_size": 50, "hide_color": 0,
                                "segmentation": "auto", "segmentation_params": None}
    samples_parameter = "num_samples"
    constraints = {"num_samples": Integer(2, 100_000), "num_features": Integer(1, 10_000),
                   "batch_size": Integer(1, 4096), "hide_color": [None, Real(0, 255)],
                   "segmentation": segmentation_constraints()["segmentation"],
                   "segmentation_params": segmentation_constraints()["segmentation_params"]}

    def expected_forward_passes(self, params, targets):
        """``num_samples`` perturbed images and the image, shared by every target."""
        return int(params["num_samples"]) + 1

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                num_samples: int, num_features: int, batch_size: int, hide_color: Any, segmentation: str,
                segmentation_params: dict[str, Any] | None) -> list[Explanation]:
        def superpixels(shrunk: np.ndarray) -> np.ndarray:
            return segment(shrunk.astype(np.uint8), segmentation, dict(segmentation_params or {}), seed, model.cache)

        with quiet(), seeded_global_numpy(seed):  # OmniXAI's LimeImageExplainer samples from numpy's global state
            lime_type = _load("omnixai.explainers.vision.agnostic.lime:LimeImage")
            explainer = lime_type(predict_function=lambda images: model.predict(images.to_numpy(keepdim=True)))
            # OmniXAI's LIME explains the top-k classes only: k reaches the lowest-ranked target
            # (a surrogate per class: top-2 targets fit 2, not all 1000 ImageNet classes)
            ranks = np.argsort(-model.predict(image[None])[0], kind="stable")
            top_labels = 1 + max(int(np.flatnonzero(ranks == target)[0]) for target in targets)
            result = explainer.explain(
                omnixai_images(image, 1), top_labels=top_labels, num_samples=num_samples,
                num_features=num_features, batch_size=batch_size, random_seed=seed, positive_only=False,
                hide_color=hide_color, segmentation_fn=None if segmentation == "quickshift" else superpixels,
            ).get_explanations()[0]
        labels = [int(label) for label in result["labels"]]
        height, width = image.shape[:2]
        explanations = []
        for target in targets:
            if target not in labels:
                raise ModelError(f"OmniXAI LIME explained classes {labels}, not {target}")
            mask = np.asarray(result["masks"][labels.index(target)], dtype=np.float32)
            explanations.append(Explanation(target=target, attribution=resize_map(mask, height, width),
                                            extras={"num_features": num_features}))
        return explanations


ALL = (OmniLime, OmniShap, OmniIntegratedGradients, OmniGradCam, OmniGradCamPlusPlus, OmniLayerCam,
       OmniScoreCam, OmniSmoothGrad, OmniGuidedBackprop)


def _explanation(method: str, target: int, entry: dict[str, Any], image: np.ndarray,
                 input_size: tuple[int, int], extras: dict[str, Any]) -> Explanation:
    """Map one OmniXAI result to an H×W (and per-channel) explanation, refusing any other shape."""
    if int(entry["target_label"]) != target:
        raise ModelError(f"{method}: OmniXAI explained class {entry['target_label']}, not {target}")
    scores = np.asarray(entry["scores"], dtype=np.float32)
    expected = f"{input_size} or {input_size + (image.shape[2],)}"
    if scores.shape[:2] != input_size or scores.ndim not in (2, 3) or (scores.ndim == 3 and scores.shape[2] != image.shape[2]):
        raise ModelError(f"{method}: OmniXAI returned a map of shape {scores.shape}, expected {expected}; "
                         "refusing a map that does not match the model input")
    height, width = image.shape[:2]
    if scores.ndim == 2:
        return Explanation(target=target, attribution=resize_map(scores, height, width), extras=dict(extras))
    return Explanation(target=target, attribution=resize_map(scores.sum(axis=2), height, width),
                       channels=resize_map(scores, height, width), extras={**extras, "reduction": "sum over channels"})


def _spatial_size(model_input: Any, framework: str) -> tuple[int, int]:
    shape = tuple(np.asarray(model_input.detach().cpu() if hasattr(model_input, "detach") else model_input).shape)
    return shape[2:4] if framework == "torch" else shape[1:3]


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)

