"""`ModelAdapter`: one way to ask any model for class probabilities."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from xaihub.cache import RunCache
from xaihub.errors import InputError, ModelError

OUTPUT_KINDS = ("auto", "probabilities", "logits", "multilabel-logits")


@dataclass
class ModelOptions:
    """How to feed a model and read its output.

    :param preprocess: maps a batch of images ``N×H×W×C`` float32 in pixel scale
        ``[0, 255]`` to the model's input (``N×H×W×C``; torch adapters transpose to
        ``N×C×H×W`` unless ``channels_first=False``). Default: divide by 255.
    :param labels: class names, a sequence indexed by class or a ``{index: name}`` map.
    :param batch_size: images per forward pass.
    :param output: ``"probabilities"``, ``"logits"`` (softmax applied),
        ``"multilabel-logits"`` (sigmoid applied) or ``"auto"``: logits when any
        output of the first batch lies outside ``[0, 1]``, probabilities otherwise.
    :param device: torch device for inputs; default: the device of the model's parameters.
    :param channels_first: torch only; ``False`` when ``preprocess`` already returns ``N×C×H×W``.
    """

    preprocess: Callable[[np.ndarray], Any] | None = None
    labels: Sequence[str] | Mapping[int, str] | None = None
    batch_size: int = 64
    output: str = "auto"
    device: str | None = None
    channels_first: bool = True

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_KINDS:
            raise InputError(f"output must be one of {OUTPUT_KINDS}, got {self.output!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InputError(f"batch_size must be a positive int, got {self.batch_size!r}")
        if self.preprocess is not None and not callable(self.preprocess):
            raise InputError(f"preprocess must be callable, got {type(self.preprocess).__name__}")


def scale_to_unit(images: np.ndarray) -> np.ndarray:
    """The default preprocessing: pixel scale ``[0, 255]`` to float32 ``[0, 1]``."""
    return np.asarray(images, dtype=np.float32) / np.float32(255.0)


def class_scores(output: Any) -> Any:
    """A model's class scores: the first of its outputs when it returns several (a tuple or list)."""
    return output[0] if isinstance(output, (tuple, list)) else output


def detect_output_kind(low: float, high: float, num_classes: int) -> str:
    """``output="auto"``: scores outside ``[0, 1]`` are logits (sigmoid for a single output)."""
    if low >= 0 and high <= 1:
        return "probabilities"
    return "multilabel-logits" if num_classes == 1 else "logits"


class ModelAdapter:
    """Base adapter: batching, preprocessing, output normalisation, forward-pass counting.

    Subclasses implement :meth:`_forward` (model input batch → raw scores as numpy)
    and set :attr:`framework`. ``predict`` always returns probabilities ``N×K``.
    """

    framework: str = "callable"

    def __init__(self, model: Any, options: ModelOptions | None = None) -> None:
        self.model = model
        self.options = options or ModelOptions()
        self.forward_passes = 0
        self.on_forward: Callable[[int], None] | None = None
        """Called with the number of images each time forward passes are counted (progress display)."""
        self.output_kind: str | None = None if self.options.output == "auto" else self.options.output
        self.num_classes: int | None = None
        self.cache = RunCache()
        """Work shared by the methods of the current ``explain`` call (the runner renews it)."""

    # -- public API ---------------------------------------------------------------
    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``N×K`` float64 for images ``N×H×W×C`` in pixel scale."""
        images = np.asarray(images)
        if images.ndim != 4:
            raise InputError(f"predict expects a batch N×H×W×C, got shape {images.shape}")
        if len(images) == 0:
            raise InputError("predict got an empty batch")
        outputs = []
        with self.session():
            for start in range(0, len(images), self.options.batch_size):
                batch = images[start : start + self.options.batch_size]
                raw = self._forward(self.prepare(batch))
                self.count_forward(len(batch))
                outputs.append(self._normalise(raw, len(batch)))
        return np.concatenate(outputs)

    def prepare(self, images: np.ndarray) -> Any:
        """Apply the user's ``preprocess`` (default: scale to ``[0, 1]``)."""
        batch = np.asarray(images, dtype=np.float32)
        fn = self.options.preprocess or scale_to_unit
        try:
            return fn(batch)
        except Exception as exc:
            raise ModelError(f"preprocess raised {type(exc).__name__}: {exc}") from exc

    def label(self, index: int) -> str | None:
        """The name of class ``index``, if labels were given."""
        labels = self.options.labels
        if labels is None:
            return None
        if isinstance(labels, Mapping):
            return labels.get(index)
        return labels[index] if 0 <= index < len(labels) else None

    def reset_count(self) -> None:
        self.forward_passes = 0

    def count_forward(self, images: int) -> None:
        """Record ``images`` forward passes (``predict`` does; so do methods that run the framework
        model themselves, e.g. for gradients)."""
        self.forward_passes += images
        if self.on_forward is not None:
            self.on_forward(images)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Context in which the model is ready for inference; restores it afterwards."""
        yield

    # -- for subclasses -------------------------------------------------------------
    def _forward(self, batch: Any) -> Any:
        return self.model(batch)

    def _normalise(self, raw: Any, n: int) -> np.ndarray:
        try:
            out = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"model output is not numeric: {type(raw).__name__} ({exc})") from exc
        if out.ndim == 1 and out.shape[0] == n:
            out = out[:, None]
        finite = bool(np.all(np.isfinite(out)))
        low, high = (float(out.min()), float(out.max())) if finite and out.size else (0.0, 0.0)
        self._check_scores(tuple(out.shape), n, finite, low, high)
        if self.output_kind == "logits":
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        elif self.output_kind == "multilabel-logits":
            out = 1.0 / (1.0 + np.exp(-out))
        return out

    def _check_scores(self, shape: tuple[int, ...], n: int, finite: bool, low: float, high: float) -> None:
        """Check one batch of raw scores (shape, finiteness, class count, range); the first batch
        fixes the class count and, with ``output="auto"``, the output kind."""
        if len(shape) != 2 or shape[0] != n:
            raise ModelError(f"model must return N×K scores for N={n} images, got shape {shape}")
        if not finite:
            raise ModelError("model returned NaN or infinite scores")
        if self.num_classes is None:
            self.num_classes = shape[1]
            self._check_labels()
        elif shape[1] != self.num_classes:
            raise ModelError(f"model returned {shape[1]} classes, earlier batches had {self.num_classes}")
        if self.output_kind is None:
            self.output_kind = detect_output_kind(low, high, shape[1])
        elif self.output_kind == "probabilities" and (low < -1e-6 or high > 1 + 1e-6):
            raise ModelError("output='probabilities' but the model returned scores outside [0, 1]; use output='logits'")

    def _check_labels(self) -> None:
        labels = self.options.labels
        if labels is not None and not isinstance(labels, Mapping) and len(labels) != self.num_classes:
            raise ModelError(f"{len(labels)} labels given but the model returns {self.num_classes} classes")


class CallableAdapter(ModelAdapter):
    """A plain function ``f(batch N×H×W×C) -> N×K`` (numpy in, array-like out)."""

    framework = "callable"
