"""``lime.image``: the lime library's ``LimeImageExplainer``, run as the library runs it."""

from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation
from xaihub.core.params import Integer, Real
from xaihub.core.superpixels import SEGMENTATION_DEFAULTS, segmentation_constraints, superpixels_for
from xaihub.models import ModelAdapter


class LimeImage(Explainer):
    """LIME from the reference implementation, ``lime.lime_image.LimeImageExplainer``.

    Superpixels as every superpixel method takes them (``segmentation`` ``"auto"``, sized to the
    image, by default; see :func:`xaihub.core.superpixels.superpixels_for`), except that
    ``segmentation="quickshift"`` runs lime's own quickshift wrapper, as the library does, with the
    seed project's ``kernel_size``, ``max_dist``, ``ratio`` (override them in ``segmentation_params``).
    All targets are explained from one set of perturbations. Switched-off superpixels show
    the grey level ``hide_color`` (default black, as ``native.lime``), or their own mean
    colour with ``hide_color=None``, lime's default, which cannot hide a superpixel of
    uniform colour.
    """

    name = "lime.image"
    family = "lime"
    summary = "lime library's LimeImageExplainer (superpixels sized to the image, ridge surrogate)"
    libraries = ("lime", "scikit-image", "scikit-learn")
    defaults: dict[str, Any] = {"num_samples": 1000, "hide_color": 0, "kernel_width": 0.25, **SEGMENTATION_DEFAULTS}
    samples_parameter = "num_samples"
    constraints = {
        "num_samples": Integer(2, 100_000),
        "hide_color": [None, Real(0, 255)],
        "kernel_width": Real(0, low_open=True),
        **segmentation_constraints(),
    }

    def expected_forward_passes(self, params, targets):
        """lime scores ``num_samples`` perturbed images once for every target."""
        return int(params["num_samples"])

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                num_samples: int, hide_color: int | None, kernel_width: float, **superpixels: Any
                ) -> list[Explanation]:
        from lime.lime_image import LimeImageExplainer
        from lime.wrappers.scikit_image import SegmentationAlgorithm

        if superpixels["segmentation"] == "quickshift" and superpixels["segments"] is None:
            # lime seeds quickshift with ``random_seed``, which current scikit-image calls ``rng``;
            # lime drops names quickshift does not take, so every seed would get quickshift's default.
            options = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2, **(superpixels["segmentation_params"] or {})}
            segmentation = SegmentationAlgorithm("quickshift", **options, rng=seed)
        else:
            given = superpixels_for(image, superpixels, seed, model.cache)

            def segmentation(_image: np.ndarray) -> np.ndarray:
                return given

        explainer = LimeImageExplainer(kernel_width=kernel_width, random_state=seed)
        # lime draws a tqdm bar on stderr for every call with no way to turn it off.
        with contextlib.redirect_stderr(io.StringIO()):
            result = explainer.explain_instance(
                image, model.predict, labels=list(targets), hide_color=hide_color, top_labels=None,
                num_samples=num_samples, batch_size=model.images_per_batch(*image.shape[:2]),
                segmentation_fn=segmentation, random_seed=seed,
            )
        segment_ids = np.asarray(result.segments, dtype=np.int32)
        n_segments = int(segment_ids.max()) + 1
        explanations = []
        for target in targets:
            weights = np.zeros(n_segments, np.float32)
            for segment, weight in result.local_exp[target]:
                weights[segment] = weight
            explanations.append(Explanation(
                target=target,
                attribution=weights[segment_ids],
                segments=segment_ids,
                segment_weights=weights,
                # lime keeps one R² for the last label only, so none is reported per target.
                extras={"n_segments": n_segments, "intercept": float(result.intercept[target])},
            ))
        return explanations
