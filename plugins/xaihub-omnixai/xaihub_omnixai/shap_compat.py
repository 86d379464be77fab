"""Giving OmniXAI 1.3.1's SHAP wrapper the shap output it was written for.

Since shap 0.45, ``DeepExplainer.shap_values`` returns one array ``N×…×K`` (class last)
instead of a list of ``K`` arrays ``N×…``. OmniXAI indexes ``values[label][i]``, which on
the new array picks image ``label`` and channel (torch) or row (TF) ``i``: a 64×64 image
came back as (64, 64, 5) on torch and (64, 3, 5) on TF. Within :func:`list_per_class`,
OmniXAI's module sees a ``DeepExplainer`` that returns the old list, so its indexing
means what it meant: class ``label``, image ``i``.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any, Iterator


class _ListPerClassDeepExplainer:
    def __init__(self, model: Any, data: Any) -> None:
        import shap

        self._explainer = shap.DeepExplainer(model, data)

    def shap_values(self, inputs: Any) -> list:
        values = self._explainer.shap_values(inputs)
        if isinstance(values, list):
            return values
        return [values[..., k] for k in range(values.shape[-1])]


@contextlib.contextmanager
def list_per_class() -> Iterator[None]:
    """While active, OmniXAI's ``ShapImage`` gets per-class lists from shap's DeepExplainer."""
    from omnixai.explainers.vision.agnostic import shap as omnixai_shap

    original = omnixai_shap.shap
    omnixai_shap.shap = types.SimpleNamespace(DeepExplainer=_ListPerClassDeepExplainer)
    try:
        yield
    finally:
        omnixai_shap.shap = original
