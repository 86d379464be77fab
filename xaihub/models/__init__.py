"""Model adapters: every model kind answers ``predict(images) -> probabilities``.

:class:`ModelAdapter` documents what a black-box plugin may use on any model;
:class:`GradientAdapter` adds what a gradient plugin may use on torch and Keras models.
"""

from xaihub.models.base import CallableAdapter, ModelAdapter, ModelOptions, scale_to_unit
from xaihub.models.differentiable import GradientAdapter

__all__ = ["CallableAdapter", "GradientAdapter", "ModelAdapter", "ModelOptions", "scale_to_unit", "adapt"]


def adapt(model, options: ModelOptions | None = None) -> ModelAdapter:
    """Wrap ``model`` in the first adapter a plugin offers for it (see the ``adapt_model`` hook)."""
    from xaihub.errors import ModelError
    from xaihub.plugins import _plugin_manager

    if isinstance(model, ModelAdapter):
        return model
    options = options or ModelOptions()
    adapter = _plugin_manager().hook.adapt_model(model=model, options=options)
    if adapter is None:
        raise ModelError(
            f"don't know how to run a {type(model).__module__}.{type(model).__qualname__}: pass a torch "
            "nn.Module, a keras.Model, or a callable taking N×H×W×C images and returning N×K scores"
        )
    return adapter
