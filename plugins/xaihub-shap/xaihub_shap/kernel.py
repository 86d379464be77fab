"""``shap.kernel``: Kernel SHAP (``shap.KernelExplainer``) with superpixels as the players."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation
from xaihub.core.params import Anything, Choice, Integer
from xaihub.core.seeding import seeded_global_numpy
from xaihub.core.superpixels import (
    FILLS,
    SEGMENTATION_DEFAULTS,
    fill_image,
    perturb,
    segmentation_constraints,
    superpixels_for,
)
from xaihub.models import ModelAdapter


class SuperpixelKernelShap(Explainer):
    """Shapley values of superpixels, estimated by Kernel SHAP.

    Superpixels as every superpixel method takes them (:func:`xaihub.core.superpixels.superpixels_for`):
    ``segmentation`` ``"auto"`` (sized to the image), ``"quickshift"``, ``"slic"``, ``"felzenszwalb"``
    with ``segmentation_params``, or given ``segments``; shared with the other methods of the call.

    A coalition shows its superpixels and ``fill`` elsewhere (black, the mean colour of
    each superpixel, or a blurred image), so for each target the
    superpixel values add up to ``p(image) - p(all filled)`` (stored in ``extras``).
    ``l1_reg=False`` keeps every superpixel (shap's own default keeps only 10); any of
    shap's ``l1_reg`` values may be passed.
    """

    name = "shap.kernel"
    family = "kernel_shap"
    summary = "shap library's KernelExplainer over superpixels sized to the image"
    libraries = ("shap", "scikit-image")
    defaults: dict[str, Any] = {"num_samples": "auto", "fill": "zero", "l1_reg": False, **SEGMENTATION_DEFAULTS}
    samples_parameter = "num_samples"
    samples_default = 2048
    constraints = {
        "num_samples": [Choice("auto"), Integer(2, 1_000_000)],
        "fill": Choice(*FILLS),
        "l1_reg": Anything("shap's l1_reg: False, 'auto', 'num_features(k)', 'aic', 'bic' or a number"),
        **segmentation_constraints(),
    }

    def expected_forward_passes(self, params, targets):
        """``num_samples`` coalitions and the image and its all-off copy, shared by every target; unknown with
        ``"auto"`` (shap sizes it to the superpixels)."""
        return None if params["num_samples"] == "auto" else int(params["num_samples"]) + 2

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                num_samples: int | str, fill: str, l1_reg: Any, **segmentation: Any) -> list[Explanation]:
        import shap

        segment_ids = superpixels_for(image, segmentation, seed, model.cache)
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
