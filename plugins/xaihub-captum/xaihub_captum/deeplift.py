"""``captum.deeplift`` and ``captum.deeplift_shap``: captum's DeepLift (Rescale rule) and DeepLiftShap.

captum's DeepLift hooks every module of a type in its rule table (``ReLU``, ``ELU``, ``LeakyReLU``,
``Sigmoid``, ``Tanh``, ``Softplus``, ``Softmax``, max pooling). While these methods run, the table also
gives captum's Rescale rule (its ``nonlinear``, ``Δoutput/Δinput``, exact for any element-wise function)
to the element-wise activations of current networks (``ReLU6``, ``SiLU``, ``GELU``, ``Hardswish``, …);
otherwise captum would back-propagate their plain gradient and the map would not be DeepLift. A model
captum's hooks cannot handle is refused before any work (:mod:`xaihub_captum.architecture`).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import numpy as np

from xaihub import MethodUnavailableError
from xaihub.core.params import Choice, Integer, Real
from xaihub.models import GradientAdapter
from xaihub_captum.architecture import deeplift_problems, traced
from xaihub_captum.baselines import BASELINES, baseline_distribution, one_baseline
from xaihub_captum.method import InputAttribution
from xaihub_captum.running import batches, repeated

ELEMENT_WISE = ("ReLU6", "SiLU", "GELU", "Hardswish", "Hardsigmoid", "Mish", "Hardtanh", "CELU", "SELU", "PReLU")
"""Element-wise activations (``torch.nn`` names) given captum's Rescale rule here."""
_CAPTUM_ATTRIBUTES = ("input", "output")
_captum_table = threading.Lock()


class DeepLift(InputAttribution):
    """captum's ``DeepLift`` (Rescale rule) of the target's raw score (the logit where the model has one).

    Multipliers replace gradients at every hooked non-linearity; the attribution is (input − baseline) ×
    multiplier, summed over channels, so it adds up to ``score(input) − score(baseline)`` up to captum's
    convergence delta (``extras["convergence_delta"]``). ``baseline`` ``"black"``, ``"zero"`` or ``"blur"``
    (see :mod:`xaihub_captum.baselines`). Forward passes: ``4 × targets`` (captum runs input and baseline
    in one batch, and both again for the delta).
    """

    name = "captum.deeplift"
    family = "deeplift"
    summary = "captum DeepLift (Rescale rule) from a black, zero or blurred baseline"
    defaults: dict[str, Any] = {"baseline": "black", "blur_sigma": 10.0}
    constraints = {"baseline": Choice(*BASELINES), "blur_sigma": Real(0, 1000, low_open=True)}

    def expected_forward_passes(self, params, targets):
        """One probe, then the input and its baseline twice per target (attribution, convergence delta)."""
        return 1 + 4 * targets

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        check_deeplift(self.name, model, image)

    def attribute(self, model, image, inputs, targets, per_batch, seed, *, baseline, blur_sigma):
        import torch
        from captum.attr import DeepLift as CaptumDeepLift

        start = one_baseline(model, image, baseline, blur_sigma)
        method = CaptumDeepLift(model.scores_module())
        values, deltas = [], []
        with element_wise_rules(), captum_attributes_removed(model.model):
            for group in batches(targets, per_batch // 2):
                attribution, delta = method.attribute(repeated(inputs, len(group)), baselines=start, target=group,
                                                      return_convergence_delta=True)
                values.append(attribution.detach())
                deltas.extend(float(d) for d in delta)
        return torch.cat(values), [{"convergence_delta": d} for d in deltas]


class DeepLiftShap(InputAttribution):
    """captum's ``DeepLiftShap``: DeepLift of the target's raw score from each baseline of a distribution,
    averaged (summed over channels).

    ``baselines``: ``n_baselines`` (at least 2) ``"blur"``red copies of the image or ``"uniform"`` noise
    images (see :mod:`xaihub_captum.baselines`); the map adds up to ``score(input)`` less the mean baseline
    score. Baselines are evaluated in chunks that fit ``model.images_per_batch`` (captum needs two or more
    per call; the chunks' means are weighted by size). Rules and refusals as ``captum.deeplift``.
    Forward passes: ``2 × targets × n_baselines``.
    """

    name = "captum.deeplift_shap"
    family = "deeplift_shap"
    summary = "captum DeepLiftShap over blurred or noise baselines"
    defaults: dict[str, Any] = {"baselines": "blur", "n_baselines": 4}
    constraints = {"baselines": Choice("blur", "uniform"), "n_baselines": Integer(2, 256)}

    def expected_forward_passes(self, params, targets):
        """One probe, then the input with each baseline twice per target."""
        return 1 + 2 * int(params["n_baselines"]) * targets

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        check_deeplift(self.name, model, image)

    def attribute(self, model, image, inputs, targets, per_batch, seed, *, baselines, n_baselines):
        import torch
        from captum.attr import DeepLiftShap as CaptumDeepLiftShap

        references = baseline_distribution(model, image, baselines, n_baselines, seed)
        method = CaptumDeepLiftShap(model.scores_module())
        values = []
        with element_wise_rules(), captum_attributes_removed(model.model):
            for group in batches(targets, per_batch // 4):
                chunk = max(2, per_batch // (2 * len(group)))
                total = 0
                for part in np.array_split(np.arange(n_baselines), max(1, n_baselines // chunk)):
                    attribution = method.attribute(repeated(inputs, len(group)), target=group,
                                                   baselines=references[part[0] : part[-1] + 1])
                    total = total + attribution.detach() * len(part)
                values.append(total / n_baselines)
        return torch.cat(values), [{"n_baselines": n_baselines} for _ in targets]


def check_deeplift(method: str, model: GradientAdapter, image: np.ndarray) -> None:
    """Refuse, with the reasons, a model captum's DeepLift cannot explain (one traced forward pass)."""
    problems = deeplift_problems(traced(model, image), rule_types())
    if problems:
        raise MethodUnavailableError(f"{method} cannot explain this model: {'; '.join(problems)}")


def rule_types() -> tuple[type, ...]:
    """Module types DeepLift has a rule for while :func:`element_wise_rules` is active."""
    from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR

    return tuple(SUPPORTED_NON_LINEAR) + tuple(t for t in _element_wise_types() if t not in SUPPORTED_NON_LINEAR)


@contextlib.contextmanager
def element_wise_rules() -> Iterator[None]:
    """While active, captum's DeepLift gives :data:`ELEMENT_WISE` activations its Rescale rule (its rule
    table is a module-level dict; the entries are taken out again after)."""
    from captum.attr._core import deep_lift

    with _captum_table:
        table = deep_lift.SUPPORTED_NON_LINEAR
        added = [kind for kind in _element_wise_types() if kind not in table]
        table.update({kind: deep_lift.nonlinear for kind in added})
        try:
            yield
        finally:
            for kind in added:
                table.pop(kind, None)


@contextlib.contextmanager
def captum_attributes_removed(net: Any) -> Iterator[None]:
    """captum's DeepLift stores ``input``/``output`` tensors on the modules it hooks and deletes them in the
    backward pass; after the block, any it left behind (a failed run) are removed."""
    before = {id(module): set(vars(module)) for module in net.modules()}
    try:
        yield
    finally:
        for module in net.modules():
            for name in _CAPTUM_ATTRIBUTES:
                if name in vars(module) and name not in before.get(id(module), ()):
                    delattr(module, name)


def _element_wise_types() -> list[type]:
    from torch import nn

    return [getattr(nn, name) for name in ELEMENT_WISE if hasattr(nn, name)]
