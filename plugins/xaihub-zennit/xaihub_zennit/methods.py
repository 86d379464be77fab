"""zennit's LRP composites as xaihub methods: ``zennit.epsilon_plus_flat``, ``zennit.epsilon_gamma_box`` and
``zennit.epsilon``.

Each runs on a private copy of the model (zennit's canonizers merge ``BatchNorm`` into weights and its
rules register hooks: none of it touches the user's model), with one forward pass of the image repeated
once per target and one backward pass. Relevance starts from the target's raw score (``one-hot × score``),
so it adds up to the score less what the rules absorb (``extras``: ``score`` and ``relevance_sum``).
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, InputError, MethodUnavailableError, ModelError, Requirement
from xaihub.core.params import Real
from xaihub.models import GradientAdapter
from xaihub_zennit import support


def import_zennit() -> Any:
    """zennit, imported after torchvision (which zennit 0.5.1 imports, and which needs xaihub's shim)."""
    from xaihub.models.torchvision_shim import import_torchvision

    try:
        import_torchvision()
        import zennit.composites
        import zennit.torchvision
    except ImportError as exc:
        raise MethodUnavailableError(f"zennit does not import ({exc}); it needs torchvision: "
                                     "pip install --no-deps torchvision zennit==0.5.1") from exc
    return zennit


class _ZennitLrp(Explainer):
    family = "lrp"
    requires = Requirement(GRADIENTS, ("torch",))
    libraries = ("zennit", "torchvision")
    composite_name = ""

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        import_zennit()
        support.check_supported(model.score_model())

    def composite(self, model: GradientAdapter, batch: Any, canonizers: list[Any], **params: Any) -> Any:
        """The zennit composite for ``batch`` (the model input, one image per target)."""
        raise NotImplementedError

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        import torch

        from xaihub.models.torch_scores import SelectedScores

        zennit = import_zennit()
        x = model.model_input(image[None])
        if x.ndim != 4:
            raise InputError(f"LRP needs an N×C×H×W model input; preprocess gave shape {tuple(x.shape)}")
        net = SelectedScores(_copy(model.score_model()), model.select_output)
        batch = x.detach().repeat(len(targets), 1, 1, 1)
        composite = self.composite(model, batch, [zennit.torchvision.ResNetCanonizer()], **params)
        with torch.no_grad():
            plain = net(batch)
        batch.requires_grad_(True)
        try:
            composite.register(net)
        except Exception as exc:  # a canonizer failing on the model (the copy, left as it is): nothing computed yet
            raise MethodUnavailableError(f"zennit's canonizers cannot be applied to the model: {exc}") from exc
        try:
            with torch.enable_grad():
                scores = net(batch)
            if not torch.allclose(scores, plain, rtol=1e-4, atol=1e-4 * float(plain.abs().max())):
                raise MethodUnavailableError("zennit's canonizers changed the model's scores (a BatchNorm merged "
                                             "into a layer that does not feed it?): its LRP would explain another "
                                             "model")
            start = torch.zeros_like(scores)
            rows = torch.arange(len(targets))
            start[rows, list(targets)] = scores[rows, list(targets)].detach()
            (relevance,) = torch.autograd.grad(scores, batch, grad_outputs=start)
        finally:
            composite.remove()
        model.count_forward(2 * len(targets))
        relevance = relevance.detach().double().cpu().numpy()
        height, width = image.shape[:2]
        explanations = []
        for target, target_relevance, score in zip(targets, relevance, start[rows, list(targets)].tolist()):
            if not np.all(np.isfinite(target_relevance)):
                raise MethodUnavailableError("zennit's relevance is not finite")
            channels = model.to_image(target_relevance.transpose(1, 2, 0), height, width, conserve=True)
            explanations.append(Explanation(
                target=target, attribution=channels.sum(axis=2), channels=channels,
                extras={"score": float(score), "relevance_sum": float(target_relevance.sum()),
                        "score_kind": model.score_kind, "composite": self.composite_name, "input_space": "model"}))
        return explanations


class ZennitEpsilonPlusFlat(_ZennitLrp):
    """LRP with zennit's ``EpsilonPlusFlat`` composite (Montavon et al. 2019's recommendation): the flat
    rule on the first layer, z⁺ on the other convolutions, epsilon on the dense layers."""

    name = "zennit.epsilon_plus_flat"
    summary = "LRP, zennit's EpsilonPlusFlat composite (flat first layer, z+ convolutions, epsilon dense layers)"
    composite_name = "EpsilonPlusFlat"
    defaults: dict[str, Any] = {"epsilon": 1e-6}
    constraints = {"epsilon": Real(0, low_open=True)}

    def composite(self, model: GradientAdapter, batch: Any, canonizers: list[Any], *, epsilon: float) -> Any:
        return import_zennit().composites.EpsilonPlusFlat(epsilon=epsilon, canonizers=canonizers)


class ZennitEpsilonGammaBox(_ZennitLrp):
    """LRP with zennit's ``EpsilonGammaBox`` composite: the z^B rule on the first convolution, bounded by the
    model inputs of an all-black and an all-white image, gamma on the other convolutions, epsilon on the
    dense layers."""

    name = "zennit.epsilon_gamma_box"
    summary = "LRP, zennit's EpsilonGammaBox composite (box-bounded first layer, gamma convolutions, epsilon dense)"
    composite_name = "EpsilonGammaBox"
    defaults: dict[str, Any] = {"epsilon": 1e-6, "gamma": 0.25}
    constraints = {"epsilon": Real(0, low_open=True), "gamma": Real(0)}

    def composite(self, model: GradientAdapter, batch: Any, canonizers: list[Any], *, epsilon: float,
                  gamma: float) -> Any:
        import torch

        shape = (1, *batch.shape[2:], batch.shape[1])
        ends = [model.model_input(np.full(shape, value, np.uint8)).detach() for value in (0, 255)]
        low, high = torch.minimum(*ends), torch.maximum(*ends)
        repeat = (len(batch), 1, 1, 1)
        return import_zennit().composites.EpsilonGammaBox(low=low.repeat(repeat), high=high.repeat(repeat),
                                                          epsilon=epsilon, gamma=gamma, canonizers=canonizers)


class ZennitEpsilon(_ZennitLrp):
    """LRP with the epsilon rule on every convolution and dense layer (zennit's rules, no special first layer):
    the rule ``lrp.epsilon`` applies with captum, for comparison."""

    name = "zennit.epsilon"
    summary = "LRP, zennit's epsilon rule on every convolution and dense layer"
    composite_name = "Epsilon"
    defaults: dict[str, Any] = {"epsilon": 1e-6}
    constraints = {"epsilon": Real(0, low_open=True)}

    def composite(self, model: GradientAdapter, batch: Any, canonizers: list[Any], *, epsilon: float) -> Any:
        import torch

        zennit = import_zennit()
        rule = zennit.rules.Epsilon(epsilon=epsilon)
        layers = zennit.composites.layer_map_base() + [(zennit.types.Convolution, rule), (torch.nn.Linear, rule)]
        return zennit.composites.LayerMapComposite(layer_map=layers, canonizers=canonizers)


def _copy(net: Any) -> Any:
    try:
        copied = copy.deepcopy(net)
    except Exception as exc:
        raise ModelError(f"zennit's LRP runs on a copy of the model and copy.deepcopy failed: {exc}") from exc
    return copied.eval()
