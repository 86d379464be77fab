"""Model adapters: every model kind answers ``predict(images) -> probabilities``.

:class:`ModelAdapter` documents what a black-box plugin may use on any model;
:class:`GradientAdapter` adds what a gradient plugin may use on torch and Keras models.
Which adapter serves a model is the registry's choice (:func:`xaihub.registry.plugins.adapt`, through the
``adapt_model`` hook).
"""

from xaihub.models.base import CallableAdapter, ModelAdapter, ModelOptions, scale_to_unit
from xaihub.models.differentiable import GradientAdapter

__all__ = ["CallableAdapter", "GradientAdapter", "ModelAdapter", "ModelOptions", "scale_to_unit"]
