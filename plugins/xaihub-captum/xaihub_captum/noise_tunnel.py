"""``captum.smoothgrad``, ``captum.vargrad``, ``captum.smoothgrad_sq``: captum's ``NoiseTunnel`` over ``Saliency``."""

from __future__ import annotations

from typing import Any, ClassVar

from xaihub.core.params import Integer, Real
from xaihub_captum.method import InputAttribution
from xaihub_captum.running import batches, repeated


class NoiseTunnelSaliency(InputAttribution):
    """captum's ``NoiseTunnel`` around ``Saliency`` (signed gradients of the target's raw score).

    ``nt_samples`` noisy copies of the input per target, with Gaussian noise of standard deviation
    ``noise_level`` × (max − min of the input) — Smilkov et al.'s noise level, 0.15 of the range: about 38
    pixel levels for a photo with the default preprocessing. Copies are evaluated
    ``model.images_per_batch`` at a time (captum's ``nt_samples_batch_size``). The map is the statistic of
    :attr:`nt_type` over the copies, summed over channels. Forward passes: ``targets × nt_samples``.
    """

    nt_type: ClassVar[str]
    conserve = False
    defaults: dict[str, Any] = {"nt_samples": 20, "noise_level": 0.15}
    samples_parameter = "nt_samples"
    constraints = {"nt_samples": Integer(1, 100_000), "noise_level": Real(0, 10)}

    def expected_forward_passes(self, params, targets):
        """One gradient (a forward pass) per noisy copy and target."""
        return int(params["nt_samples"]) * targets

    def attribute(self, model, image, inputs, targets, per_batch, seed, *, nt_samples, noise_level):
        import torch
        from captum.attr import NoiseTunnel, Saliency

        stdev = float(noise_level * (inputs.max() - inputs.min()))
        tunnel = NoiseTunnel(Saliency(model.scores_module()))
        values = [tunnel.attribute(repeated(inputs, len(group)), nt_type=self.nt_type, nt_samples=nt_samples,
                                   nt_samples_batch_size=max(1, per_batch // len(group)), stdevs=stdev,
                                   target=group, abs=False).detach()
                  for group in batches(targets, per_batch)]
        return torch.cat(values), [{"stdev": stdev} for _ in targets]


class SmoothGrad(NoiseTunnelSaliency):
    __doc__ = NoiseTunnelSaliency.__doc__.replace(":attr:`nt_type`", "``smoothgrad``: the mean gradient")
    name = "captum.smoothgrad"
    family = "smoothgrad"
    summary = "captum NoiseTunnel SmoothGrad: mean gradient over noisy copies, summed over channels"
    nt_type = "smoothgrad"


class VarGrad(NoiseTunnelSaliency):
    __doc__ = NoiseTunnelSaliency.__doc__.replace(":attr:`nt_type`", "``vargrad``: the gradient's variance")
    name = "captum.vargrad"
    family = "vargrad"
    summary = "captum NoiseTunnel VarGrad: variance of gradients over noisy copies, summed over channels"
    nt_type = "vargrad"


class SmoothGradSquared(NoiseTunnelSaliency):
    __doc__ = NoiseTunnelSaliency.__doc__.replace(":attr:`nt_type`", "``smoothgrad_sq``: the mean squared gradient")
    name = "captum.smoothgrad_sq"
    family = "squaregrad"
    summary = "captum NoiseTunnel SmoothGrad-squared: mean squared gradient over noisy copies, summed over channels"
    nt_type = "smoothgrad_sq"
