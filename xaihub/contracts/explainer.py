"""The contract every explanation method follows."""

from __future__ import annotations

import importlib.metadata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

if TYPE_CHECKING:
    import numpy as np

    from xaihub.core.explanation import Explanation
    from xaihub.models.base import ModelAdapter

BLACK_BOX = "predictions"
GRADIENTS = "gradients"

FAMILIES = {
    "saliency": "vanilla gradient (Simonyan et al. 2014)",
    "input_x_gradient": "gradient × input",
    "integrated_gradients": "Integrated Gradients (Sundararajan et al. 2017)",
    "smoothgrad": "gradients averaged over noisy copies (Smilkov et al. 2017)",
    "vargrad": "variance of gradients over noisy copies",
    "squaregrad": "mean squared gradient over noisy copies",
    "expected_gradients": "gradient SHAP / expected gradients (Erion et al. 2021)",
    "deeplift": "DeepLIFT (Shrikumar et al. 2017)",
    "deeplift_shap": "DeepLIFT over a background distribution (DeepSHAP)",
    "guided_backprop": "guided backpropagation (Springenberg et al. 2015)",
    "deconvolution": "deconvolution (Zeiler & Fergus 2014)",
    "guided_grad_cam": "guided Grad-CAM",
    "grad_cam": "Grad-CAM (Selvaraju et al. 2017)",
    "grad_cam_pp": "Grad-CAM++ (Chattopadhyay et al. 2018)",
    "layer_cam": "Layer-CAM (Jiang et al. 2021)",
    "hires_cam": "HiResCAM (Draelos & Carin 2020)",
    "xgrad_cam": "XGrad-CAM (Fu et al. 2020)",
    "eigen_cam": "Eigen-CAM (Muhammad & Yeasin 2020)",
    "ablation_cam": "Ablation-CAM (Desai & Ramaswamy 2020)",
    "score_cam": "Score-CAM (Wang et al. 2020)",
    "lrp": "Layer-wise Relevance Propagation (Bach et al. 2015)",
    "occlusion": "sliding-window occlusion (Zeiler & Fergus 2014)",
    "feature_ablation": "ablation of superpixels one at a time",
    "shapley_sampling": "Shapley values by permutation sampling",
    "lime": "LIME (Ribeiro et al. 2016)",
    "kernel_shap": "Kernel SHAP (Lundberg & Lee 2017)",
    "partition_shap": "Owen values over a pixel hierarchy (shap's Partition explainer)",
    "rise": "RISE (Petsiuk et al. 2018)",
    "sobol": "Sobol attribution (Fel et al. 2021)",
    "hsic": "HSIC attribution (Novello et al. 2022)",
    "baseline": "a reference map with no information about the model",
}
"""Names for what a method computes, so implementations of one method from different libraries
are grouped and compared (:attr:`Explainer.family`). Plugins may use other names."""

SIGNED = "signed"
MAGNITUDE = "magnitude"
READINGS = (SIGNED, MAGNITUDE)
"""How a metric reads a map: ``"signed"`` (the larger the value, the more evidence *for* the target: negative
values are evidence against it) or ``"magnitude"`` (``|map|``: large either way is important)."""
MAGNITUDE_FAMILIES = frozenset({
    "saliency", "input_x_gradient", "integrated_gradients", "smoothgrad", "vargrad", "squaregrad",
    "expected_gradients", "deeplift", "deeplift_shap", "guided_backprop", "deconvolution", "guided_grad_cam", "lrp",
})
"""Families whose maps are meant to be read by their magnitude: pixel-level gradient and relevance maps, whose
sign flips from pixel to pixel (Captum's and the papers' figures show ``|map|``); scoring them signed would call
them worse than noise because positive and negative pixels of one region cancel. Every other family (CAMs,
perturbation, LIME, SHAP over superpixels, RISE, baselines) is read signed: its positive values are the evidence
for the target."""


def family_reading(family: str | None) -> str:
    """How a metric reads maps of ``family`` by default (:data:`MAGNITUDE` or :data:`SIGNED`)."""
    return MAGNITUDE if family in MAGNITUDE_FAMILIES else SIGNED


@dataclass(frozen=True)
class Requirement:
    """What a method needs from the model.

    ``kind`` is ``"predictions"`` (any model, black box) or ``"gradients"``; for
    gradients, ``frameworks`` names the adapter frameworks it supports
    (``"torch"``, ``"keras"``).
    """

    kind: str = BLACK_BOX
    frameworks: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == BLACK_BOX:
            return "predictions (any model)"
        return f"{self.kind} ({', '.join(self.frameworks) or 'no framework'})"

    def unmet_by(self, model: "ModelAdapter") -> str | None:
        """Why ``model`` cannot serve this requirement, or ``None`` when it can."""
        if self.kind == BLACK_BOX:
            return None
        if model.framework not in self.frameworks:
            return (
                f"needs {self.describe()} but the model is a {model.framework!r} model; "
                f"pass a {' or '.join(self.frameworks)} model"
            )
        return None


class Explainer(ABC):
    """One explanation method. Plugins subclass this and ``register`` an instance.

    Subclasses set the class attributes and implement :meth:`explain`. All explainers
    share one call signature (as Captum's attribution classes do), so the runner
    treats them alike.
    """

    #: Namespaced method name, e.g. ``"native.lime"``.
    name: ClassVar[str]
    #: What the method needs from the model.
    requires: ClassVar[Requirement] = Requirement()
    #: Default parameters; users override them through ``params={name: {...}}``. They are the
    #: keyword parameters ``explain`` receives (:func:`xaihub.testing.check_explainer` checks that
    #: they match its signature).
    defaults: ClassVar[dict[str, Any]] = {}
    #: What each parameter accepts (see :mod:`xaihub.core.params`), checked by the runner before any
    #: method runs: ``{"num_samples": Integer(2, 100_000), "layer": [None, String()]}``.
    constraints: ClassVar[dict[str, Any]] = {}
    #: The parameter that sets how many samples the method draws, in its own unit (perturbations, integration
    #: steps, noisy copies, designs, evaluations), e.g. ``"num_samples"``; ``None`` for a method that does not
    #: sample. ``budget=`` and ``samples=`` of :func:`xaihub.explain` set it (see
    #: :func:`xaihub.core.params.budget_samples`); a value the user gives in ``params`` wins.
    samples_parameter: ClassVar[str | None] = None
    #: What the default of :attr:`samples_parameter` amounts to when it is not a number (``"auto"``): the
    #: number ``budget=`` scales.
    samples_default: ClassVar[int | None] = None
    #: Distributions whose versions are recorded in every Explanation.
    libraries: ClassVar[tuple[str, ...]] = ()
    #: One-line description shown by ``xaihub list``.
    summary: ClassVar[str] = ""
    #: What the method computes (a key of :data:`FAMILIES`, or ``None``): implementations of one
    #: family from different libraries are grouped and their agreement is reported.
    family: ClassVar[str | None] = None

    @abstractmethod
    def explain(
        self,
        model: "ModelAdapter",
        image: "np.ndarray",
        targets: Sequence[int],
        *,
        seed: int,
        **params: Any,
    ) -> list["Explanation"]:
        """Explain ``model``'s scores for ``targets`` on ``image``.

        :param model: the adapter. Use only its documented surface: :class:`~xaihub.models.ModelAdapter`
            for every model (``predict`` for probabilities — it batches, preprocesses and counts
            forward passes), :class:`~xaihub.models.GradientAdapter` for gradients of torch and Keras
            models. The call runs inside ``model.session()`` (eval mode, restored afterwards).
        :param image: the input, ``H×W×3`` ``uint8``.
        :param targets: class indices to explain, in order.
        :param seed: seed for every random choice the method makes.
        :param params: ``defaults`` updated with the user's parameters.
        :return: one :class:`~xaihub.Explanation` per target, with at least
            ``target`` and ``attribution`` set. The runner fills ``method``, ``image``,
            ``score``, timings, forward passes, seed, parameters and versions.
        """

    def check_model(self, model: "ModelAdapter", image: "np.ndarray") -> None:
        """Raise :class:`~xaihub.core.errors.MethodUnavailableError` (with the reason) when the method
        cannot explain ``model``; called before :meth:`explain`, so it must be cheap.

        The default checks :attr:`requires` (a model whose output is detached from its input is diagnosed by the
        runner when a gradient method fails on it: a probe here would cost every method a forward pass). Override it
        to refuse, upfront, an architecture the method cannot handle (a layer type without a rule, a model
        that is not a ``Sequential``, ...).
        """
        from xaihub.core.errors import MethodUnavailableError

        unmet = self.requires.unmet_by(model)
        if unmet:
            raise MethodUnavailableError(f"{self.name} {unmet}")

    def expected_forward_passes(self, params: dict[str, Any], targets: int) -> int | None:
        """The model evaluations one call with ``params`` (the defaults updated with the user's) for
        ``targets`` targets will take, when the method can tell before it runs; ``None`` (the default) when
        it cannot. ``xaihub describe`` shows it."""
        return None

    def check_available(self) -> None:
        """Raise :class:`~xaihub.core.errors.MethodUnavailableError` if the method cannot run here.

        The default checks that every distribution in ``libraries`` is installed.
        """
        check_libraries(self.name, self.libraries)

    def versions(self) -> dict[str, str]:
        """Installed versions of the libraries this method uses."""
        return library_versions(self.libraries)


def check_libraries(user: str, libraries: Sequence[str]) -> None:
    """Raise :class:`~xaihub.core.errors.MethodUnavailableError` naming the ``libraries`` ``user`` needs that
    are not installed."""
    from xaihub.core.errors import MethodUnavailableError

    missing = [lib for lib in libraries if installed_version(lib) is None]
    if missing:
        raise MethodUnavailableError(f"{user} needs {', '.join(missing)}; install it (pip install {' '.join(missing)})")


def library_versions(libraries: Sequence[str]) -> dict[str, str]:
    """Installed versions of ``libraries`` (missing ones left out)."""
    return {lib: v for lib in libraries if (v := installed_version(lib)) is not None}


@lru_cache(maxsize=None)
def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or ``None`` (cached: metadata reads are slow)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
