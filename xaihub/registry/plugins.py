"""The plugin manager: loads plugins, owns the registries of explainers and metrics, and adapts models.

Plugins come from the ``xaihub`` entry-point group (built-in and third-party alike)
or from :func:`register` at run time. The core's own model adapters
(:mod:`xaihub.registry.builtin_adapters`) and metrics (:mod:`xaihub.metrics.builtin`) are plugins too,
registered before any entry point, so they work with no plugin installed. ``XAIHUB_PLUGINS``
(comma-separated entry-point names) limits which entry points load; set it to an empty string to
load none. A plugin that fails to import or to register is recorded in :func:`load_failures`
and never stops the others. Every hook is called through ``pm.hook``: :func:`adapt` is how the
runner gets the adapter of a user's model.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import threading
from collections.abc import Set
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import pluggy

from xaihub.contracts import hookspecs
from xaihub.contracts.explainer import Explainer
from xaihub.contracts.metric import Metric
from xaihub.core.errors import InputError, ModelError, UnknownMethodError, XaihubError
from xaihub.metrics import builtin as builtin_metrics
from xaihub.models.base import ModelAdapter, ModelOptions
from xaihub.registry import builtin_adapters

ENTRY_POINT_GROUP = "xaihub"
ENV_VAR = "XAIHUB_PLUGINS"
BUILTIN_METRICS = "xaihub.metrics"
"""The plugin name of the core's metrics, the only ones whose names need no namespace."""
CORE_PLUGINS = ("xaihub.models", "xaihub.models.callable", BUILTIN_METRICS)
"""The core's own plugins (model adapters, built-in metrics), registered before any entry point."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or registered."""

    plugin: str
    error: str


@dataclass(frozen=True)
class RegisteredMethod:
    """A method in the registry and the plugin that provided it."""

    explainer: Explainer
    plugin: str


@dataclass(frozen=True)
class RegisteredMetric:
    """A metric in the registry and the plugin that provided it."""

    metric: Metric
    plugin: str


class _Registry:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("xaihub")
        self.pm.add_hookspecs(hookspecs)
        self.methods: dict[str, RegisteredMethod] = {}
        self.metrics: dict[str, RegisteredMetric] = {}
        self.values: dict[str, str] = {}
        """Metric value name → the name of the metric producing it."""
        self.failures: list[PluginFailure] = []
        self._lock = threading.RLock()
        self._loaded = False

    def ensure_loaded(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            self.pm.register(builtin_adapters.FrameworkAdapters(), name=CORE_PLUGINS[0])
            self.pm.register(builtin_adapters.CallableFallback(), name=CORE_PLUGINS[1])
            self.add(builtin_metrics, BUILTIN_METRICS)
            for ep in _selected_entry_points():
                try:
                    plugin = ep.load()
                except Exception as exc:  # a broken plugin is reported, not fatal
                    self.failures.append(PluginFailure(ep.name, f"{type(exc).__name__}: {exc}"))
                    continue
                self.add(plugin, ep.name)

    def add(self, plugin: Any, name: str, strict: bool = False) -> None:
        """Register ``plugin``; a failure raises when ``strict``, else it is recorded."""
        with self._lock:
            if self.pm.has_plugin(name) or self.pm.is_registered(plugin):
                raise XaihubError(f"a plugin named {name!r} is already registered")
            try:
                self.pm.register(plugin, name=name)
                self._call_own_hook(plugin, "register_explainers", lambda explainer: self._add_method(explainer, name))
                self._call_own_hook(plugin, "register_metrics", lambda metric: self._add_metric(metric, name))
            except Exception as exc:
                self.remove(name)
                if strict:
                    raise XaihubError(f"could not register plugin {name!r}: {exc}") from exc
                self.failures.append(PluginFailure(name, f"{type(exc).__name__}: {exc}"))

    def _call_own_hook(self, plugin: Any, hook: str, register: Callable[[Any], None]) -> None:
        """Call ``hook`` through pluggy for ``plugin`` alone (every other plugin was called when it was added)."""
        others = [other for other in self.pm.get_plugins() if other is not plugin]
        self.pm.subset_hook_caller(hook, remove_plugins=others)(register=register)

    def remove(self, name: str) -> None:
        with self._lock:
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                self.pm.unregister(plugin, name=name)
            for method in [m for m, r in self.methods.items() if r.plugin == name]:
                del self.methods[method]
            for metric in [m for m, r in self.metrics.items() if r.plugin == name]:
                del self.metrics[metric]
            self.values = {value: m for value, m in self.values.items() if m in self.metrics}

    def _add_method(self, explainer: Explainer, plugin: str) -> None:
        if not isinstance(explainer, Explainer):
            raise XaihubError(f"register() takes an xaihub.Explainer instance, got {type(explainer).__name__}")
        name = getattr(explainer, "name", None)
        if not isinstance(name, str) or "." not in name:
            raise XaihubError(f"explainer name must be namespaced like 'plugin.method', got {name!r}")
        if name in self.methods:
            raise XaihubError(f"method {name!r} is already registered by plugin {self.methods[name].plugin!r}")
        self.methods[name] = RegisteredMethod(explainer, plugin)

    def _add_metric(self, metric: Metric, plugin: str) -> None:
        if not isinstance(metric, Metric):
            raise XaihubError(f"register() takes an xaihub.Metric instance, got {type(metric).__name__}")
        name = getattr(metric, "name", None)
        if not isinstance(name, str) or not name or ("." not in name and plugin != BUILTIN_METRICS):
            raise XaihubError(f"metric name must be namespaced like 'plugin.metric', got {name!r}")
        if name in self.metrics:
            raise XaihubError(f"metric {name!r} is already registered by plugin {self.metrics[name].plugin!r}")
        values = getattr(metric, "lower_is_better", None)
        if not isinstance(values, Mapping) or not values:
            raise XaihubError(f"metric {name!r} must declare its values in lower_is_better, got {values!r}")
        for value in values:
            if not (isinstance(value, str) and (value == name or value.startswith((f"{name}.", f"{name}_")))):
                raise XaihubError(f"metric {name!r} declares value {value!r}; value names start with "
                                  f"'{name}.' or '{name}_' (or are {name!r})")
            if value in self.values:
                raise XaihubError(f"value {value!r} of metric {name!r} is already produced by {self.values[value]!r}")
        self.metrics[name] = RegisteredMetric(metric, plugin)
        self.values.update({value: name for value in values})


def _selected_entry_points() -> list[importlib.metadata.EntryPoint]:
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    wanted = os.environ.get(ENV_VAR)
    if wanted is None:
        return eps
    names = {n.strip() for n in wanted.split(",") if n.strip()}
    return [ep for ep in eps if ep.name in names]


_registry = _Registry()


def _plugin_manager() -> pluggy.PluginManager:
    """The pluggy manager, with every plugin loaded (private: the core calls hooks through it)."""
    _registry.ensure_loaded()
    return _registry.pm


def register(plugin: Any, name: str | None = None) -> Any:
    """Register a plugin, a single :class:`Explainer` or a single :class:`~xaihub.Metric` at run
    time; returns it (usable as a decorator).

    ``plugin`` is an ``Explainer`` or ``Metric`` instance, a subclass of either (instantiated
    with no arguments), or an object/module with ``@hookimpl`` functions. Its hooks are called
    through pluggy, for this plugin alone.

    :param name: the plugin's name, which :func:`unregister` takes; default: the explainer's or
        metric's ``name``, a module's ``__name__``, else the object's class name.
    :raises XaihubError: when the name is taken, or the plugin fails to register (nothing of it is kept).
    """
    _registry.ensure_loaded()
    target = plugin() if isinstance(plugin, type) and issubclass(plugin, (Explainer, Metric)) else plugin
    if isinstance(target, Explainer):
        _registry.add(_SingleExplainerPlugin(target), name or target.name, strict=True)
    elif isinstance(target, Metric):
        _registry.add(_SingleMetricPlugin(target), name or target.name, strict=True)
    else:
        _registry.add(target, name or getattr(target, "__name__", None) or type(target).__qualname__, strict=True)
    return plugin


def unregister(name: str) -> None:
    """Remove the plugin called ``name`` and every method and metric it registered, for this process.

    ``name`` is a plugin's name: the one :func:`register` was given or derived (a single explainer's
    or metric's ``name``), or an entry-point name (``"native"``, ``"shap"``; ``XAIHUB_PLUGINS`` limits
    which load in the first place). A method of a plugin that registered several is not a plugin name.

    :raises InputError: for a name no plugin has, or the core's own plugins (adapters, built-in metrics).
    """
    _registry.ensure_loaded()
    if name in CORE_PLUGINS:
        raise InputError(f"{name!r} is one of the core's own plugins and cannot be unregistered")
    if not isinstance(name, str) or not _registry.pm.has_plugin(name):
        owner = (_registry.methods.get(name) or _registry.metrics.get(name)) if isinstance(name, str) else None
        hint = f"; {name!r} belongs to plugin {owner.plugin!r}" if owner is not None else ""
        registered = sorted(n for n, _ in _registry.pm.list_name_plugin() if n not in CORE_PLUGINS)
        raise InputError(f"no plugin named {name!r}{hint}; registered plugins: {', '.join(registered) or 'none'}")
    _registry.remove(name)


def get_method(name: str) -> RegisteredMethod:
    """The registered method called ``name``; :class:`UnknownMethodError` lists the known ones."""
    _registry.ensure_loaded()
    try:
        return _registry.methods[name]
    except KeyError:
        known = ", ".join(sorted(_registry.methods)) or "none"
        raise UnknownMethodError(f"unknown method {name!r}; registered methods: {known}") from None


def list_methods() -> list[RegisteredMethod]:
    """Every registered method, sorted by name."""
    _registry.ensure_loaded()
    return [_registry.methods[k] for k in sorted(_registry.methods)]


def adapter_for(model: Any, options: ModelOptions | None = None) -> ModelAdapter | None:
    """The first adapter a plugin offers for ``model`` (the ``adapt_model`` hook), or ``None`` when no
    plugin knows its kind."""
    return _plugin_manager().hook.adapt_model(model=model, options=options or ModelOptions())


def adapt(model: Any, options: ModelOptions | None = None) -> ModelAdapter:
    """Wrap ``model`` in the first adapter a plugin offers for it (:func:`adapter_for`); an adapter is
    returned as it is.

    :raises ModelError: when no plugin knows the kind of model.
    """
    if isinstance(model, ModelAdapter):
        return model
    adapter = adapter_for(model, options)
    if adapter is None:
        raise ModelError(
            f"don't know how to run a {type(model).__module__}.{type(model).__qualname__}: pass a torch "
            "nn.Module, a keras.Model, or a callable taking N×H×W×C images and returning N×K scores"
        )
    return adapter


def methods_for(model: ModelAdapter) -> list[str]:
    """The names of every registered method that can run here (its libraries are installed) and whose
    :attr:`~xaihub.Explainer.requires` ``model`` meets, sorted. A method may still refuse the model's
    architecture when it runs (its ``check_model``): it is then reported unavailable for that model."""
    names = []
    for registered in list_methods():
        explainer = registered.explainer
        try:
            explainer.check_available()
        except XaihubError:
            continue
        if explainer.requires.unmet_by(model) is None:
            names.append(explainer.name)
    return names


def get_metric(name: str) -> RegisteredMetric:
    """The registered metric called ``name``; :class:`InputError` lists the known ones."""
    _registry.ensure_loaded()
    try:
        return _registry.metrics[name]
    except KeyError:
        known = ", ".join(sorted(_registry.metrics)) or "none"
        raise InputError(f"unknown metric {name!r}; registered metrics: {known}") from None


def list_metrics() -> list[RegisteredMetric]:
    """Every registered metric, sorted by name."""
    _registry.ensure_loaded()
    return [_registry.metrics[k] for k in sorted(_registry.metrics)]


def metric_of_value(value: str) -> RegisteredMetric | None:
    """The registered metric that produces the value named ``value`` (e.g. ``"degradation_top1"``), if any."""
    _registry.ensure_loaded()
    name = _registry.values.get(value)
    return _registry.metrics.get(name) if name is not None else None


def lower_is_better(value: str) -> bool | None:
    """``True`` when lower is better for the metric value named ``value`` (``"deletion"``,
    ``"quantus.road"``, ...), ``False`` when higher is, ``None`` when it has no direction or no
    registered metric produces it."""
    registered = metric_of_value(value)
    return None if registered is None else registered.metric.lower_is_better[value]


class _LowerIsBetterValues(Set):
    """The registered metric values where lower is better, read from the registry at each use."""

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and lower_is_better(value) is True

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(value for registered in list_metrics()
                           for value, lower in registered.metric.lower_is_better.items() if lower))

    def __len__(self) -> int:
        return sum(1 for _ in self)


LOWER_IS_BETTER: Set[str] = _LowerIsBetterValues()
"""Every registered metric value where lower is better (a set kept for older callers; prefer
:func:`lower_is_better`, which also tells values that have no direction)."""


@contextlib.contextmanager
def _standing_in(explainer: Explainer) -> Iterator[None]:
    """Within the block ``explainer`` is the registered method of its name, in place of any other
    (so :mod:`xaihub.testing` can run an unregistered or re-instantiated explainer through ``explain``)."""
    _registry.ensure_loaded()
    with _registry._lock:
        previous = _registry.methods.get(explainer.name)
        plugin = previous.plugin if previous is not None else "xaihub.testing"
        _registry.methods[explainer.name] = RegisteredMethod(explainer, plugin)
    try:
        yield
    finally:
        with _registry._lock:
            if previous is None:
                _registry.methods.pop(explainer.name, None)
            else:
                _registry.methods[explainer.name] = previous


def load_failures() -> list[PluginFailure]:
    """Plugins that failed to import or register, with their errors."""
    _registry.ensure_loaded()
    return list(_registry.failures)


class _SingleExplainerPlugin:
    def __init__(self, explainer: Explainer) -> None:
        self.explainer = explainer

    @hookspecs.hookimpl
    def register_explainers(self, register: Callable[[Explainer], None]) -> None:
        register(self.explainer)


class _SingleMetricPlugin:
    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    @hookspecs.hookimpl
    def register_metrics(self, register: Callable[[Metric], None]) -> None:
        register(self.metric)
