"""``shap.kernel``: Kernel SHAP (``shap.KernelExplainer``) with superpixels as the players."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation
from xaihub.models import ModelAdapter
from xaihub.params import Anything, Array, Choice, Integer, Real
from xaihub.seeding import seeded_global_numpy
from xaihub.superpixels import FILLS, check_segments, fill_image, perturb, segment


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
    constraints = {
        "num_samples": [Choice("auto"), Integer(2, 1_000_000)],
        "fill": Choice(*FILLS),
        "kernel_size": Real(0, low_open=True),
        "max_dist": Real(0, low_open=True),
        "ratio": Real(0, 1),
        "l1_reg": Anything("shap's l1_reg: False, 'auto', 'num_features(k)', 'aic', 'bic' or a number"),
        "segments": [None, Array(2, "iu", "an H×W array of superpixel ids")],
    }

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                num_samples: int | str, fill: str, kernel_size: float, max_dist: float, ratio: float,
                l1_reg: Any, segments: np.ndarray | None) -> list[Explanation]:
        import shap

        if segments is not None:
            segment_ids = check_segments(segments, image)
        else:
            options = {"kernel_size": kernel_size, "max_dist": max_dist, "ratio": ratio}
            segment_ids = segment(image, "quickshift", options, seed, model.cache)
        n_segments = int(segment_ids.max()) + 1
        background = fill_image(image, segment_ids, fill)
        columns = list(targets)

        step = model.images_per_batch(*image.shape[:2])  # shap asks for all its samples in one call

        def coalition_scores(masks: np.ndarray) -> np.ndarray:
            return np.concatenate([
                model.predict(perturb(image, background, segment_ids, masks[i : i + step]))[:, columns]
                for i in range(0, len(masks), step)
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
