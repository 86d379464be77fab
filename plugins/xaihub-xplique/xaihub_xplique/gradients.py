"""Xplique's gradient methods on Keras models: Saliency, Gradient×Input, Integrated Gradients,
SmoothGrad, VarGrad, SquareGrad (in the adapter's input space: the image's pixels with a declared
preprocessing), guided backpropagation and DeconvNet (on the model's own layers, in model-input space).

Every method differentiates the target's raw score (``model.score_kind``: the logit where the model
has one). Xplique gives a map per input channel: it is kept as ``channels`` and reduced over channels
by ``reducer`` into ``attribution``, as Xplique's own ``reducer`` does.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xaihub import GRADIENTS, Explanation, Requirement
from xaihub.core.errors import MethodUnavailableError
from xaihub.core.maps import resize_map
from xaihub.core.params import Choice, Integer, Real
from xaihub.models import GradientAdapter, ModelAdapter
from xaihub_xplique.base import XpliqueMethod, copies, one_hot
from xaihub_xplique.keras_models import counted_scores_model, layered_scores_model

REDUCERS = ("mean", "sum", "max", "min")
KERAS_GRADIENTS = Requirement(GRADIENTS, ("keras",))


class InputGradientMethod(XpliqueMethod):
    """A gradient method on ``model.scores_model`` (the adapter's input space, preprocessing inside).

    Forward passes are counted by the model itself (see :func:`counted_scores_model`).
    """

    requires = KERAS_GRADIENTS
    defaults: dict[str, Any] = {"reducer": "mean"}
    constraints = {"reducer": Choice(*REDUCERS)}
    #: Resize maps so that their sum is kept (for completeness-bound attributions).
    conserve = False

    def options(self, inputs: np.ndarray, params: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
        """Xplique's constructor arguments beyond the model, ``batch_size`` and ``reducer``."""
        return {}

    def run(self, model: GradientAdapter, image, targets, seed, params):
        height, width = image.shape[:2]
        inputs = copies(model.channels_last(model.differentiable_input(image[None]))[0], len(targets))
        extras: dict[str, Any] = {"score": model.score_kind, "input_space": model.input_space,
                                  "reducer": params["reducer"]}
        explainer = self.xplique_type()(counted_scores_model(model, height, width), reducer=None,
                                        batch_size=model.images_per_batch(height, width),
                                        **self.options(inputs, params, extras))
        maps = np.asarray(explainer.explain(inputs, one_hot(targets, model.num_classes)))
        return channel_explanations(targets, maps, params["reducer"], extras,
                                    lambda values: model.to_image(values, height, width, conserve=self.conserve))


class XpliqueSaliency(InputGradientMethod):
    """Saliency (Simonyan et al. 2014): ``|∂score/∂input|`` per channel, maximised over channels."""

    name = "xplique.saliency"
    family = "saliency"
    summary = "Xplique Saliency: |d score / d input|, max over channels (Keras)"
    xplique_class = "xplique.attributions:Saliency"
    defaults: dict[str, Any] = {"reducer": "max"}

    def expected_forward_passes(self, params, targets):
        """One gradient per target."""
        return targets



class XpliqueGradientInput(InputGradientMethod):
    """Gradient × Input: ``input · ∂score/∂input`` per channel (in pixel units with a declared preprocessing)."""

    name = "xplique.gradient_input"
    family = "input_x_gradient"
    summary = "Xplique Gradient x Input (Keras)"
    xplique_class = "xplique.attributions:GradientInput"

    def expected_forward_passes(self, params, targets):
        """One gradient per target."""
        return targets



class XpliqueIntegratedGradients(InputGradientMethod):
    """Integrated Gradients from a constant baseline (``baseline_value`` in every input value: 0 is a
    black image in pixel space): the trapezoidal rule over ``steps`` points from the baseline to the
    input, both ends included (``steps`` forward passes per target)."""

    name = "xplique.integrated_gradients"
    family = "integrated_gradients"
    summary = "Xplique Integrated Gradients from a constant (black) baseline, trapezoidal rule (Keras)"
    xplique_class = "xplique.attributions:IntegratedGradients"
    defaults: dict[str, Any] = {"steps": 50, "baseline_value": 0.0, "reducer": "mean"}
    samples_parameter = "steps"
    constraints = {"steps": Integer(2, 4096), "baseline_value": Real(), "reducer": Choice(*REDUCERS)}
    conserve = True

    def expected_forward_passes(self, params, targets):
        """``steps`` gradients per target."""
        return int(params["steps"]) * targets

    def options(self, inputs, params, extras):
        extras.update(steps=params["steps"], baseline_value=params["baseline_value"])
        return {"steps": params["steps"], "baseline_value": float(params["baseline_value"])}


class NoisyGradientMethod(InputGradientMethod):
    """A statistic of the gradients of ``nb_samples`` noisy copies of the input.

    ``noise`` is the Gaussian noise's standard deviation as a fraction of the input's range (max − min),
    as SmoothGrad defines it: 0.2 of a photo's 0–255 pixels is about 51 (Xplique's own ``noise`` is
    absolute; its default, 0.2, is meant for inputs in [0, 1]). The absolute value is in
    ``extras["noise_std"]``.
    """

    draws_in_tensorflow = True
    defaults: dict[str, Any] = {"nb_samples": 50, "noise": 0.2, "reducer": "mean"}
    samples_parameter = "nb_samples"
    constraints = {"nb_samples": Integer(1, 100_000), "noise": Real(0, low_open=True), "reducer": Choice(*REDUCERS)}

    def expected_forward_passes(self, params, targets):
        """``nb_samples`` gradients per target."""
        return int(params["nb_samples"]) * targets

    def options(self, inputs, params, extras):
        std = float(params["noise"] * (inputs.max() - inputs.min()))
        extras.update(nb_samples=params["nb_samples"], noise_std=std)
        return {"nb_samples": params["nb_samples"], "noise": std}


class XpliqueSmoothGrad(NoisyGradientMethod):
    """SmoothGrad (Smilkov et al. 2017): the mean gradient over noisy copies."""

    name = "xplique.smoothgrad"
    family = "smoothgrad"
    summary = "Xplique SmoothGrad: mean gradient over noisy copies (Keras)"
    xplique_class = "xplique.attributions:SmoothGrad"


class XpliqueVarGrad(NoisyGradientMethod):
    """VarGrad (Adebayo et al. 2018): the variance of the gradients over noisy copies (``nb_samples`` ≥ 2)."""

    name = "xplique.vargrad"
    family = "vargrad"
    summary = "Xplique VarGrad: variance of gradients over noisy copies (Keras)"
    xplique_class = "xplique.attributions:VarGrad"
    constraints = {**NoisyGradientMethod.constraints, "nb_samples": Integer(2, 100_000)}


class XpliqueSquareGrad(NoisyGradientMethod):
    """SquareGrad (Hooker et al. 2019): the mean squared gradient over noisy copies."""

    name = "xplique.squaregrad"
    family = "squaregrad"
    summary = "Xplique SquareGrad: mean squared gradient over noisy copies (Keras)"
    xplique_class = "xplique.attributions:SquareGrad"


class ReluRuleMethod(XpliqueMethod):
    """Guided backpropagation or DeconvNet: Xplique clones the model (the user's is not touched) and
    changes how gradients pass its ReLUs, so it needs the ReLUs among the model's own layers
    (``model.score_model()``: a Sequential or functional model; ReLUs inside a nested model keep
    their plain gradient). The input is the preprocessed model input; maps are resized to the image.
    One forward pass per target, counted from that (the clone is out of the adapter's reach).
    """

    requires = KERAS_GRADIENTS
    defaults: dict[str, Any] = {"reducer": "mean"}
    constraints = {"reducer": Choice(*REDUCERS)}

    def expected_forward_passes(self, params, targets):
        """One rectified gradient per target."""
        return targets

    def check_model(self, model: ModelAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        if not relu_layers(layered_scores_model(model, self.name)):
            raise MethodUnavailableError(f"{self.name} rewrites the gradient of ReLU layers, and the model has "
                                         "none among its own layers (ReLU layers or activation='relu')")

    def run(self, model: GradientAdapter, image, targets, seed, params):
        network = layered_scores_model(model, self.name)
        height, width = image.shape[:2]
        inputs = copies(model.channels_last(model.model_input(image[None]))[0], len(targets))
        explainer = self.xplique_type()(network, reducer=None, batch_size=model.images_per_batch(height, width))
        maps = np.asarray(explainer.explain(inputs, one_hot(targets, model.num_classes)))
        model.count_forward(len(targets))
        extras = {"score": model.score_kind, "input_space": "model", "reducer": params["reducer"],
                  "relu_layers": len(relu_layers(network))}
        return channel_explanations(targets, maps, params["reducer"], extras,
                                    lambda values: resize_map(values, height, width))


class XpliqueGuidedBackprop(ReluRuleMethod):
    """Guided backpropagation (Springenberg et al. 2015): only positive gradients pass ReLUs that were active."""

    name = "xplique.guided_backprop"
    family = "guided_backprop"
    summary = "Xplique guided backpropagation (Keras Sequential/functional with ReLUs)"
    xplique_class = "xplique.attributions:GuidedBackprop"


class XpliqueDeconvNet(ReluRuleMethod):
    """DeconvNet (Zeiler & Fergus 2014): ReLUs pass only positive gradients, whatever their input."""

    name = "xplique.deconvnet"
    family = "deconvolution"
    summary = "Xplique DeconvNet (Keras Sequential/functional with ReLUs)"
    xplique_class = "xplique.attributions:DeconvNet"


def relu_layers(network: Any) -> list[Any]:
    """The layers whose gradient Xplique's guided backpropagation and DeconvNet rewrite: ``ReLU``
    layers and layers with ``activation`` relu (``keras.activations.relu`` or ``tf.nn.relu``)."""
    import keras
    import tensorflow as tf

    return [layer for layer in network.layers if isinstance(layer, keras.layers.ReLU)
            or getattr(layer, "activation", None) in (keras.activations.relu, tf.nn.relu)]


def channel_explanations(targets: list[int], maps: np.ndarray, reducer: str, extras: dict[str, Any],
                         to_image: Callable[[np.ndarray], np.ndarray]) -> list[Explanation]:
    """One explanation per target from Xplique's per-channel maps ``T×h×w×C``."""
    return [
        Explanation(target=target, attribution=to_image(getattr(np, reducer)(values, axis=-1)),
                    channels=to_image(values), extras=dict(extras))
        for target, values in zip(targets, maps)
    ]
