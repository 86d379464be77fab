"""``captum.saliency``, ``captum.input_x_gradient``, ``captum.integrated_gradients``, ``captum.gradient_shap``."""

from __future__ import annotations

from typing import Any

from xaihub.core.params import Choice, Integer, Real
from xaihub_captum.baselines import BASELINES, DISTRIBUTIONS, baseline_distribution, one_baseline
from xaihub_captum.method import InputAttribution
from xaihub_captum.running import batches, repeated

INTEGRATION_METHODS = ("gausslegendre", "riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid")


class Saliency(InputAttribution):
    """captum's ``Saliency``: the gradient of the target's raw score (the logit where the model has one).

    ``channels`` keeps the signed gradient per input channel (captum with ``abs=False``); the attribution
    is its largest absolute value over channels, as Simonyan et al. and ``gradients.saliency`` define it.
    Forward passes: one per target.
    """

    name = "captum.saliency"
    family = "saliency"
    summary = "captum Saliency: max over channels of |d logit / d input|"
    reduction = "max_abs"
    conserve = False

    def expected_forward_passes(self, params, targets):
        """One gradient per target."""
        return targets

    def attribute(self, model, image, inputs, targets, per_batch, seed):
        from captum.attr import Saliency as CaptumSaliency

        method = CaptumSaliency(model.scores_module())
        return _joined(method.attribute(repeated(inputs, len(group)), target=group, abs=False)
                       for group in batches(targets, per_batch)), [{} for _ in targets]


class InputXGradient(InputAttribution):
    """captum's ``InputXGradient``: input × gradient of the target's raw score, summed over channels.

    The first-order Taylor contribution of each input value against an all-zero input: with the default
    preprocessing, zero is a black image. Forward passes: one per target.
    """

    name = "captum.input_x_gradient"
    family = "input_x_gradient"
    summary = "captum InputXGradient: input × d logit / d input, summed over channels"

    def expected_forward_passes(self, params, targets):
        """One gradient per target."""
        return targets

    def attribute(self, model, image, inputs, targets, per_batch, seed):
        from captum.attr import InputXGradient as CaptumInputXGradient

        method = CaptumInputXGradient(model.scores_module())
        return _joined(method.attribute(repeated(inputs, len(group)), target=group)
                       for group in batches(targets, per_batch)), [{} for _ in targets]


class IntegratedGradients(InputAttribution):
    """captum's ``IntegratedGradients`` of the target's raw score along the straight path from a baseline.

    ``n_steps`` points placed by ``method`` (captum's default Gauss–Legendre; ``"riemann_middle"`` is the
    midpoint rule of ``gradients.integrated``); ``baseline`` ``"black"``, ``"zero"`` or ``"blur"``
    (``blur_sigma`` px), see :mod:`xaihub_captum.baselines`. Summed over channels, so the map adds up to
    ``score(input) − score(baseline)`` up to captum's convergence delta, kept in
    ``extras["convergence_delta"]`` (``Σ attribution − (score(input) − score(baseline))``). Path points are
    evaluated ``model.images_per_batch`` at a time (captum's ``internal_batch_size``).
    Forward passes: ``targets × (n_steps + 2)`` (the two ends are captum's delta).
    """

    name = "captum.integrated_gradients"
    family = "integrated_gradients"
    summary = "captum IntegratedGradients from a black, zero or blurred baseline, with its convergence delta"
    defaults: dict[str, Any] = {"n_steps": 50, "method": "gausslegendre", "baseline": "black", "blur_sigma": 10.0}
    samples_parameter = "n_steps"
    constraints = {"n_steps": Integer(1, 4096), "method": Choice(*INTEGRATION_METHODS), "baseline": Choice(*BASELINES),
                   "blur_sigma": Real(0, 1000, low_open=True)}

    def expected_forward_passes(self, params, targets):
        """``n_steps`` gradients per target, and the input and baseline for the convergence delta."""
        return (int(params["n_steps"]) + 2) * targets

    def attribute(self, model, image, inputs, targets, per_batch, seed, *, n_steps, method, baseline: str,
                  blur_sigma):
        from captum.attr import IntegratedGradients as CaptumIntegratedGradients

        start = one_baseline(model, image, baseline, blur_sigma)
        integrated = CaptumIntegratedGradients(model.scores_module())
        values, deltas = [], []
        for group in batches(targets, per_batch):
            attribution, delta = integrated.attribute(
                repeated(inputs, len(group)), baselines=start, target=group, n_steps=n_steps, method=method,
                internal_batch_size=max(per_batch, len(group)), return_convergence_delta=True)
            values.append(attribution.detach())
            deltas.extend(float(d) for d in delta)
        return _joined(values), [{"convergence_delta": d} for d in deltas]


class GradientShap(InputAttribution):
    """captum's ``GradientShap`` (expected gradients) of the target's raw score.

    Each of ``n_samples`` samples per target picks a baseline from the distribution ``baselines``
    (``"black"``, ``"zero"``, or ``n_baselines`` ``"blur"``red copies or ``"uniform"`` noise images, see
    :mod:`xaihub_captum.baselines`), adds Gaussian noise of ``stdevs`` (input units: pixel levels with a
    declared preprocessing) to the input, and takes (input − baseline) × the gradient at a uniformly
    random point between them; the map is their mean, summed over channels. Samples are evaluated
    ``model.images_per_batch`` at a time (several captum calls, their means weighted by size).
    Forward passes: ``targets × n_samples``.
    """

    name = "captum.gradient_shap"
    family = "expected_gradients"
    summary = "captum GradientShap (expected gradients) over black, blurred or noise baselines"
    defaults: dict[str, Any] = {"n_samples": 20, "stdevs": 0.0, "baselines": "blur", "n_baselines": 4}
    samples_parameter = "n_samples"
    constraints = {"n_samples": Integer(1, 100_000), "stdevs": Real(0, 1e6), "baselines": Choice(*DISTRIBUTIONS),
                   "n_baselines": Integer(1, 256)}

    def expected_forward_passes(self, params, targets):
        """One gradient (a forward pass) per sample and target."""
        return int(params["n_samples"]) * targets

    def attribute(self, model, image, inputs, targets, per_batch, seed, *, n_samples, stdevs, baselines: str,
                  n_baselines):
        from captum.attr import GradientShap as CaptumGradientShap

        references = baseline_distribution(model, image, baselines, n_baselines, seed)
        shap = CaptumGradientShap(model.scores_module())
        values = []
        for group in batches(targets, per_batch):
            chunk = max(1, per_batch // len(group))
            total = 0
            for start in range(0, n_samples, chunk):
                samples = min(chunk, n_samples - start)
                attribution = shap.attribute(repeated(inputs, len(group)), baselines=references, target=group,
                                             n_samples=samples, stdevs=float(stdevs))
                total = total + attribution.detach() * samples
            values.append(total / n_samples)
        return _joined(values), [{"n_baselines": int(references.shape[0])} for _ in targets]


def _joined(parts) -> Any:
    import torch

    return torch.cat([part.detach() for part in parts])
