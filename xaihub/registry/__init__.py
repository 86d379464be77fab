"""Where plugins meet the core: :mod:`~xaihub.registry.plugins` loads them (the ``xaihub`` entry-point group)
and calls every hook; :mod:`~xaihub.registry.builtin_adapters` offers the core's own model adapters as a
plugin; :mod:`~xaihub.registry.loading` turns what the command line names into models and labels."""
