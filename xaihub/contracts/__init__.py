"""What a plugin implements: :mod:`~xaihub.contracts.explainer` (:class:`~xaihub.Explainer`, a method),
:mod:`~xaihub.contracts.metric` (:class:`~xaihub.Metric`) and :mod:`~xaihub.contracts.hookspecs` (the hooks
that offer them and adapt models)."""
