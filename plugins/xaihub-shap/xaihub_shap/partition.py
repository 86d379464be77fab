"""``shap.partition``: Owen values over pixels from ``shap.PartitionExplainer`` and shap's image masker."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation
from xaihub.core.params import Integer, Real, String
from xaihub.core.seeding import seeded_global_numpy
from xaihub.models import ModelAdapter

_MASKS = r"inpaint_telea|inpaint_ns|blur\(\d+, ?\d+\)"


class PartitionShap(Explainer):
    """Partition SHAP: shap's hierarchical (Owen value) estimate over a pixel hierarchy.

    Hidden pixels are filled by ``masker``: ``"inpaint_telea"``, ``"inpaint_ns"``,
    ``"blur(kx,ky)"`` or a grey level in ``[0, 255]``. ``max_evals`` bounds the model
    calls (shap's default, 500); more evaluations give finer maps. ``channels`` holds the
    per-colour values; ``attribution`` is their sum, and over the whole image it adds up
    to ``p(image) - p(all masked)`` (stored in ``extras``).
    """

    name = "shap.partition"
    family = "partition_shap"
    summary = "shap library's PartitionExplainer with its image masker (inpainting)"
    libraries = ("shap", "opencv-python-headless")
    defaults: dict[str, Any] = {"max_evals": 500, "masker": "inpaint_telea"}
    samples_parameter = "max_evals"
    constraints = {"max_evals": Integer(3, 1_000_000),
                   "masker": [String(_MASKS, "'inpaint_telea', 'inpaint_ns' or 'blur(kx,ky)'"), Real(0, 255)]}

    def expected_forward_passes(self, params, targets):
        """At most ``max_evals`` masked images, shared by every target."""
        return int(params["max_evals"])

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                max_evals: int, masker: str | float) -> list[Explanation]:
        import shap

        mask_value = masker.replace(" ", "") if isinstance(masker, str) else float(masker)
        image_masker = shap.maskers.Image(mask_value, image.shape)
        explainer = shap.PartitionExplainer(model.predict, image_masker)
        with seeded_global_numpy(seed):
            result = explainer(image[None].astype(np.float32), max_evals=max_evals, outputs=np.array(targets),
                               silent=True)
        values = np.asarray(result.values[0], dtype=np.float64)  # H×W×3×T
        base = np.atleast_1d(np.asarray(result.base_values[0], dtype=np.float64))
        return [
            Explanation(
                target=target,
                attribution=values[..., i].sum(axis=2).astype(np.float32),
                channels=values[..., i].astype(np.float32),
                extras={"masked_score": float(base[i]), "masker": masker, "max_evals": max_evals},
            )
            for i, target in enumerate(targets)
        ]

