"""The hooks a xaihub plugin can implement.

This module is the reference a plugin author reads first. A plugin is any object or
module with functions decorated by :data:`hookimpl`, found through the ``xaihub``
entry-point group or registered at run time with :func:`xaihub.register`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    from xaihub.contracts.explainer import Explainer
    from xaihub.contracts.metric import Metric
    from xaihub.models.base import ModelAdapter, ModelOptions

hookspec = pluggy.HookspecMarker("xaihub")
hookimpl = pluggy.HookimplMarker("xaihub")


@hookspec
def register_explainers(register: Callable[["Explainer"], None]) -> None:
    """Offer explanation methods.

    Called once per plugin when the plugin manager loads plugins (at the first
    :func:`xaihub.explain`, :func:`xaihub.list_methods` or ``xaihub list``), and again
    for a plugin registered later at run time.

    :param register: call ``register(explainer)`` once for every method the plugin
        provides; ``explainer`` is an :class:`xaihub.Explainer` whose ``name`` is
        namespaced by the plugin (``native.lime``, ``shap.partition``). Registering
        a name twice is an error reported against the second plugin.

    Import heavy libraries inside ``Explainer.explain`` or ``Explainer.check_available``,
    never at module level, so that listing methods stays fast.
    """


@hookspec
def register_metrics(register: Callable[["Metric"], None]) -> None:
    """Offer metrics that score explanations.

    Called once per plugin when the plugin manager loads plugins (at the first
    :func:`xaihub.explain` that asks for metrics, :func:`xaihub.registry.plugins.list_metrics` or
    ``xaihub list``), and again for a plugin registered later at run time. The core's
    built-in metrics (``srg``, ``deletion``, ``insertion``, ``degradation``, ``sanity.randomization``)
    are registered through this same hook, before any entry point loads.

    :param register: call ``register(metric)`` once for every metric the plugin provides;
        ``metric`` is an :class:`xaihub.Metric` whose ``name`` is namespaced by the plugin
        (``quantus.road``) and whose value names (the keys of ``Metric.lower_is_better``)
        start with that name. Registering a metric name or a value name twice is an error
        reported against the second plugin.

    The runner calls ``Metric.compute(model, explanation, seed=..., **params)`` for every
    explanation after its method has run, with the user's parameters checked against
    ``Metric.defaults`` and ``Metric.required`` before any method runs, and stores the
    returned values in ``Explanation.metrics``. Import heavy libraries inside ``compute``,
    never at module level.
    """


@hookspec(firstresult=True)
def adapt_model(model: Any, options: "ModelOptions") -> "ModelAdapter | None":
    """Wrap a user's model in a :class:`xaihub.models.ModelAdapter`.

    Called by :func:`xaihub.explain` for the ``model`` argument, unless it already is
    a ``ModelAdapter``. Implementations are tried in pluggy's order (last registered
    first, ``tryfirst``/``trylast`` respected) and the first non-``None`` result wins.
    The built-in plain-callable adapter is ``trylast``.

    :param model: the object the user passed (a framework model, a callable, ...).
    :param options: preprocessing, batching, device, output and label options.
    :return: an adapter, or ``None`` when this implementation does not know the object.
        Detect frameworks without importing them (``"torch" in sys.modules``).
    """
