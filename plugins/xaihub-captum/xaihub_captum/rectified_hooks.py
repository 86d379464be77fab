"""captum's ``GuidedBackprop`` and ``Deconvolution`` with ``ReLU6`` modules rectified as ``ReLU`` ones. Imports captum.

captum hooks ``nn.ReLU`` modules only, so on a network built from ``ReLU6`` (MobileNet, EfficientNet-Lite)
its guided backpropagation would be the plain gradient. ``ReLU6(x) = min(ReLU(x), 6)``: its gradient is
ReLU's masked above 6, and the same hook (keep the positive part of the gradient) gives the guided and
deconvolution rules for it.
"""

from captum._utils.common import _register_backward_hook
from captum.attr import Deconvolution, GuidedBackprop
from torch import nn

RECTIFIERS = (nn.ReLU, nn.ReLU6)


class _RectifierHooks:
    def _register_hooks(self, module: nn.Module) -> None:
        if isinstance(module, RECTIFIERS):
            self.backward_hooks.extend(_register_backward_hook(module, self._backward_hook, self))


class RectifiedGuidedBackprop(_RectifierHooks, GuidedBackprop):
    """captum's ``GuidedBackprop``, hooking ``ReLU6`` modules too."""


class RectifiedDeconvolution(_RectifierHooks, Deconvolution):
    """captum's ``Deconvolution``, hooking ``ReLU6`` modules too."""
