"""``shap.kernel``: Kernel SHAP (``shap.KernelExplainer``) with superpixels as the players."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation, InputError
from xaihub.models import ModelAdapter
from xaihub.seeding import seeded_global_numpy
from xaihub.superpixels import FILLS, fill_image, perturb
from xaihub_shap.superpixels import superpixels

_CHUNK = 64  # perturbed images built at a time; shap asks for all its samples in one call


class SuperpixelKernelShap(Explainer):
    """Shapley values of quickshift superpixels (or given ``segments``), estimated by Kernel SHAP.

    A coalition shows its superpixels and ``fill`` elsewhere (black, the mean colour of
    each superpixel, or a blurred image), so for each target the
    superpixel values add up to ``p(image) - p(all filled)`` (stored in ``extras``).
    ``l1_reg=False`` keeps every superpixel (shap's own default keeps only 10); any of
    shap's ``l1_reg`` values may be passed.
    """

    name = "shap.kernel"

    family = "kernel_shap"
    summary = "shap library's KernelExplainer over quickshift superpixels"
    libraries = ("shap", "scikit-image")
    defaults: dict[str, Any] = {
        "num_samples": "auto",
        "fill": "zero",
        "kernel_size": 4,
        "max_dist": 200,
        "ratio": 0.2,
        "l1_reg": False,
        "segments": None,
    }

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                num_samples: int | str, fill: str, kernel_size: float, max_dist: float, ratio: float,
                l1_reg: Any, segments: np.ndarray | None) -> list[Explanation]:
        import shap

        if num_samples != "auto" and (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                                      or num_samples < 2):
            raise InputError(f"num_samples must be 'auto' (2·superpixels + 2048) or an int >= 2, got {num_samples!r}")
        if fill not in FILLS:
            raise InputError(f"fill must be one of {FILLS}, got {fill!r}")
        segment_ids = superpixels(image, segments, kernel_size, max_dist, ratio, seed)
        n_segments = int(segment_ids.max()) + 1
        background = fill_image(image, segment_ids, fill)
        columns = list(targets)

        def coalition_scores(masks: np.ndarray) -> np.ndarray:
            return np.concatenate([
                model.predict(perturb(image, background, segment_ids, masks[i : i + _CHUNK]))[:, columns]
                for i in range(0, len(masks), _CHUNK)
            ])

        with seeded_global_numpy(seed):
            explainer = shap.KernelExplainer(coalition_scores, np.zeros((1, n_segments)))
            values = explainer.shap_values(np.ones(n_segments), nsamples=num_samples, l1_reg=l1_reg, silent=True)
        values = np.asarray(values, dtype=np.float64).reshape(n_segments, len(columns))
        base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
        return [
            Explanation(
                target=target,
                attribution=values[segment_ids, i].astype(np.float32),
                segments=segment_ids,
                segment_weights=values[:, i].astype(np.float32),
                extras={"n_segments": n_segments, "filled_score": float(base[i])},
            )
            for i, target in enumerate(targets)
        ]
