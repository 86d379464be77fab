"""`ModelAdapter`: one way to ask any model for class probabilities — the surface plugins may use.

A plugin reaches the model only through the members documented on :class:`ModelAdapter`
(black-box methods) and :class:`xaihub.models.GradientAdapter` (gradient methods, torch and Keras).
Anything else on an adapter is private.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from xaihub.core.cache import RunCache
from xaihub.core.errors import InputError, ModelError
from xaihub.core.preprocess import Preprocess

OUTPUT_KINDS = ("auto", "probabilities", "logits", "multilabel-logits")
DEFAULT_MAX_BATCH_BYTES = 512 * 2**20
_BYTES_PER_PIXEL = 3 * 4 * 3  # float32 RGB, with room for the copies preprocessing makes
_SUMS_TO_ONE = 1e-3


@dataclass
class ModelOptions:
    """How to feed a model and read its output.

    :param preprocess: an :class:`xaihub.Preprocess` (applied inside the model's framework: gradients
        flow through it and perturbed images are scored on the model's device), or a callable mapping
        a batch ``N×H×W×C`` float32 in pixel scale ``[0, 255]`` to the model's input (run on the host,
        slower; torch adapters transpose its ``N×H×W×C`` result to ``N×C×H×W`` unless
        ``channels_first=False``). Default: ``Preprocess()``, divide by 255.
    :param labels: class names, a sequence of strings indexed by class or a ``{index: name}`` map.
    :param batch_size: images per forward pass, at most (see ``max_batch_bytes``).
    :param output: ``"probabilities"``, ``"logits"`` (softmax applied), ``"multilabel-logits"``
        (sigmoid applied) or ``"auto"``: logits when any output of the first batch lies outside
        ``[0, 1]``, probabilities otherwise (with a note when the rows do not sum to 1).
    :param device: torch device for inputs; default: the device of the model's parameters.
    :param channels_first: torch with a callable ``preprocess`` only: ``False`` when it already
        returns ``N×C×H×W``.
    :param output_index: which output holds the class scores when the model returns several: a
        position in a tuple/list or a key of a dict. Default: the ``"logits"`` entry of a dict (or
        of a HuggingFace-style output object), the first element of a tuple (noted in the result).
    :param max_batch_bytes: memory budget of one batch of images; large images get smaller batches.
    """

    preprocess: Preprocess | Callable[[np.ndarray], Any] | None = None
    labels: Sequence[str] | Mapping[int, str] | None = None
    batch_size: int = 64
    output: str = "auto"
    device: str | None = None
    channels_first: bool = True
    output_index: int | str | None = None
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_KINDS:
            raise InputError(f"output must be one of {OUTPUT_KINDS}, got {self.output!r}")
        for name in ("batch_size", "max_batch_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if self.preprocess is not None and not isinstance(self.preprocess, Preprocess) and not callable(self.preprocess):
            raise InputError(f"preprocess must be an xaihub.Preprocess or a callable, got {type(self.preprocess).__name__}")
        if self.device is not None and not isinstance(self.device, str):
            raise InputError(f"device must be a string such as 'cpu' or 'cuda:0', got {self.device!r}")
        if self.output_index is not None and (isinstance(self.output_index, bool)
                                              or not isinstance(self.output_index, (int, str))):
            raise InputError(f"output_index must be an int position or a str key, got {self.output_index!r}")
        _check_labels(self.labels)

    @property
    def declared(self) -> Preprocess | None:
        """The declarative preprocessing (the default counts), or ``None`` for a callable."""
        if self.preprocess is None:
            return Preprocess()
        return self.preprocess if isinstance(self.preprocess, Preprocess) else None


def _check_labels(labels: Any) -> None:
    if labels is None:
        return
    if isinstance(labels, (str, bytes)):
        raise InputError("labels must be a sequence of class names or a {index: name} mapping, got one string")
    if isinstance(labels, MappingABC):
        bad = [k for k in labels if isinstance(k, bool) or not isinstance(k, (int, np.integer))]
        if bad:
            raise InputError(f"labels mapping keys must be class indices (ints), got {bad[0]!r}")
        values = list(labels.values())
    else:
        try:
            values = list(labels)
        except TypeError:
            raise InputError(f"labels must be a sequence of class names or a mapping, got {type(labels).__name__}") from None
    bad_values = [v for v in values if not isinstance(v, str)]
    if bad_values:
        raise InputError(f"labels must be strings, got {bad_values[0]!r}")


def scale_to_unit(images: np.ndarray) -> np.ndarray:
    """The default preprocessing: pixel scale ``[0, 255]`` to float32 ``[0, 1]``."""
    return np.asarray(images, dtype=np.float32) / np.float32(255.0)


def detect_output_kind(low: float, high: float, num_classes: int) -> str:
    """``output="auto"``: scores outside ``[0, 1]`` are logits (sigmoid for a single output)."""
    if low >= 0 and high <= 1:
        return "probabilities"
    return "multilabel-logits" if num_classes == 1 else "logits"


class ModelAdapter:
    """Base adapter: batching, preprocessing, output normalisation, forward-pass counting.

    **What a black-box plugin may use** (every adapter):

    - :meth:`predict` — class probabilities for a batch of images in pixel scale;
    - :meth:`count_forward` — record forward passes a method runs outside ``predict``;
    - :attr:`num_classes`, :attr:`output_kind` — known once the model has scored an image (the
      runner scores the image before any method runs);
    - :attr:`cache` — a :class:`~xaihub.core.cache.RunCache` shared by the methods of one ``explain`` call;
    - :attr:`batch_size` and :meth:`images_per_batch` — how many images to build at a time;
    - :attr:`framework` — ``"torch"``, ``"keras"``, ``"callable"`` or a plugin's own name;
    - the perturbation fast path: when :attr:`accepts_device_batches`, :meth:`predict_pixels` scores
      image tensors already on :attr:`device` (torch models with a declared preprocessing), with the
      autocast :meth:`fast_autocast` chooses; :meth:`input_size` and :meth:`resize_pixels` let a method
      build its images at the size the model sees them.

    Subclasses implement :meth:`_forward` (a batch of pixel images → the model's raw output) and
    set :attr:`framework`.
    """

    framework: str = "callable"

    def __init__(self, model: Any, options: ModelOptions | None = None) -> None:
        self.model = model
        """The user's model. Plugins never modify it (work on copies)."""
        self.options = options or ModelOptions()
        self.forward_passes = 0
        """Images evaluated since the last :meth:`reset_count`."""
        self.on_forward: Callable[[int], None] | None = None
        """Called with the number of images each time forward passes are counted (progress display)."""
        self.output_kind: str | None = None if self.options.output == "auto" else self.options.output
        """``"probabilities"``, ``"logits"`` or ``"multilabel-logits"``; ``None`` until the first batch."""
        self.num_classes: int | None = None
        """Number of classes; ``None`` until the first batch."""
        self.cache = RunCache()
        """Work shared by the methods of the current ``explain`` call (the runner renews it)."""
        self.notes: list[str] = []
        """Things the adapter decided that the user should know (shown with the results)."""

    # -- the black-box surface ----------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        """Images per forward pass, at most."""
        return self.options.batch_size

    def images_per_batch(self, height: int, width: int) -> int:
        """How many ``height×width`` images to build and score at a time: ``batch_size``, fewer for
        large images so that a batch stays within ``max_batch_bytes``."""
        return max(1, min(self.batch_size, self.options.max_batch_bytes // (height * width * _BYTES_PER_PIXEL)))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``N×K`` float64 for images ``N×H×W×C`` in pixel scale ``[0, 255]``."""
        images = np.asarray(images)
        if images.ndim != 4:
            raise InputError(f"predict expects a batch N×H×W×C, got shape {images.shape}")
        if len(images) == 0:
            raise InputError("predict got an empty batch")
        step = self.images_per_batch(*images.shape[1:3])
        outputs = []
        with self.session():
            for start in range(0, len(images), step):
                batch = np.asarray(images[start : start + step], dtype=np.float32)
                raw = self._guarded(self._forward, batch)
                self.count_forward(len(batch))
                outputs.append(self._probabilities(self._scores_array(raw, len(batch))))
        return np.concatenate(outputs)

    def count_forward(self, images: int) -> None:
        """Record ``images`` forward passes (``predict`` does; so do methods that run the framework
        model themselves, e.g. for gradients)."""
        self.forward_passes += images
        if self.on_forward is not None:
            self.on_forward(images)

    def reset_count(self) -> None:
        self.forward_passes = 0

    def label(self, index: int) -> str | None:
        """The name of class ``index``, if labels were given."""
        labels = self.options.labels
        if labels is None:
            return None
        if isinstance(labels, MappingABC):
            return labels.get(index)
        return labels[index] if 0 <= index < len(labels) else None

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Context in which the model is ready for inference; restores it afterwards."""
        yield

    def prepare(self, images: np.ndarray) -> Any:
        """The model input for ``images`` on the host: the declared preprocessing in numpy, or the
        user's callable."""
        batch = np.asarray(images, dtype=np.float32)
        declared = self.options.declared
        if declared is not None:
            return declared.numpy(batch)
        try:
            prepared = self.options.preprocess(batch)
        except Exception as exc:
            raise ModelError(f"preprocess raised {type(exc).__name__}: {exc}") from exc
        shape = getattr(prepared, "shape", None)
        if shape is None or len(shape) < 1 or shape[0] != len(batch):
            raise ModelError(f"preprocess must return one model input per image ({len(batch)}), "
                             f"got {type(prepared).__name__} of shape {shape}")
        return prepared

    accepts_device_batches: bool = False
    """Whether :meth:`predict_pixels` works for this model."""

    @property
    def device(self) -> Any:
        """Where :meth:`predict_pixels` wants its images (torch: a ``torch.device``); ``None`` here."""
        return None

    def predict_pixels(self, images: Any, autocast: str | None = None) -> Any:
        """Probabilities for ``N×H×W×3`` pixel tensors on :attr:`device`, as a float64 tensor there;
        only when :attr:`accepts_device_batches`. ``autocast``: ``None``, ``"bf16"`` or ``"fp16"``."""
        raise ModelError(f"a {self.framework!r} model takes no device batches; use predict")

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``height×width`` at which :meth:`predict_pixels` feeds a ``height×width`` image to the model."""
        return height, width

    def resize_pixels(self, images: Any) -> Any:
        """Device image tensors ``N×H×W×3`` resized to :meth:`input_size`, as :meth:`predict_pixels` would."""
        raise ModelError(f"a {self.framework!r} model takes no device batches; use predict")

    def fast_autocast(self, image: np.ndarray, wanted: str | None) -> tuple[str | None, dict[str, Any]]:
        """The autocast for :meth:`predict_pixels` on perturbations of ``image`` (``wanted``, or for
        ``"auto"`` a checked choice), and facts to record about the choice."""
        return (None if wanted == "auto" else wanted), {}

    # -- for subclasses -------------------------------------------------------------------------
    def _forward(self, batch: np.ndarray) -> Any:
        """The model's raw output for ``batch`` (pixel scale, ``N×H×W×3`` float32)."""
        return self.model(self.prepare(batch))

    def _guarded(self, forward: Callable[..., Any], *args: Any) -> Any:
        """Run the user's model; anything it raises becomes a :class:`ModelError` naming it."""
        try:
            return forward(*args)
        except (InputError, ModelError):
            raise
        except Exception as exc:
            raise ModelError(f"the model raised {type(exc).__name__}: {exc}") from exc

    def select_output(self, raw: Any) -> Any:
        """The class scores among a model's outputs (see ``ModelOptions.output_index``)."""
        index = self.options.output_index
        if isinstance(raw, MappingABC) or _has_logits_attribute(raw):
            return _from_mapping(raw, index)
        if _several_outputs(raw):
            if not raw:
                raise ModelError("the model returned an empty tuple")
            if index is None:
                if len(raw) > 1:
                    self._note(f"the model returns {len(raw)} outputs; explaining the first "
                               "(pass output_index= to choose another)")
                return raw[0]
            if not isinstance(index, int) or not -len(raw) <= index < len(raw):
                raise InputError(f"output_index={index!r}, but the model returns a tuple of {len(raw)} outputs")
            return raw[index]
        return raw

    def _to_numpy(self, scores: Any) -> np.ndarray:
        return np.asarray(scores)

    def _scores_array(self, raw: Any, n: int) -> np.ndarray:
        """One batch of raw class scores as ``n×K`` float64, checked."""
        selected = self.select_output(raw)
        try:
            out = self._to_numpy(selected)
        except Exception as exc:
            raise ModelError(f"model output is not an array: {type(selected).__name__} ({exc})") from exc
        if out.dtype.kind in "iub":
            raise ModelError(f"the model returned {out.dtype} values (class ids?); xaihub needs N×K class scores")
        if out.dtype.kind not in "f":
            raise ModelError(f"the model returned {out.dtype} values; xaihub needs N×K numeric class scores")
        out = out.astype(np.float64)
        if out.ndim == 1 and out.shape[0] == n:
            out = out[:, None]
        finite = bool(np.all(np.isfinite(out)))
        low, high = (float(out.min()), float(out.max())) if finite and out.size else (0.0, 0.0)
        self._check_scores(tuple(out.shape), n, finite, low, high)
        if self.output_kind == "probabilities" and self.options.output == "auto" and out.shape[1] > 1 \
                and not np.allclose(out.sum(axis=1), 1.0, atol=_SUMS_TO_ONE):
            self._note("output='auto': the scores lie in [0, 1] but do not sum to 1; they are taken as "
                       "independent probabilities (pass output='logits' if they are logits)")
        return out

    def _probabilities(self, out: np.ndarray) -> np.ndarray:
        if self.output_kind == "logits":
            out = np.exp(out - out.max(axis=1, keepdims=True))
            return out / out.sum(axis=1, keepdims=True)
        if self.output_kind == "multilabel-logits":
            from scipy.special import expit

            return expit(out)
        return out

    def _check_scores(self, shape: tuple[int, ...], n: int, finite: bool, low: float, high: float) -> None:
        """Check one batch of raw scores (shape, finiteness, class count, range); the first batch
        fixes the class count and, with ``output="auto"``, the output kind."""
        if len(shape) != 2 or shape[0] != n:
            raise ModelError(f"model must return N×K scores for N={n} images, got shape {shape}")
        if shape[1] == 0:
            raise ModelError("the model returned scores for 0 classes")
        if not finite:
            raise ModelError("model returned NaN or infinite scores")
        if self.num_classes is None:
            self.num_classes = shape[1]
            self._check_label_count()
        elif shape[1] != self.num_classes:
            raise ModelError(f"model returned {shape[1]} classes, earlier batches had {self.num_classes}")
        if self.output_kind is None:
            self.output_kind = detect_output_kind(low, high, shape[1])
        elif self.output_kind == "probabilities" and (low < -1e-6 or high > 1 + 1e-6):
            raise ModelError("output='probabilities' but the model returned scores outside [0, 1]; use output='logits'")

    def _check_label_count(self) -> None:
        labels = self.options.labels
        if labels is None:
            return
        if isinstance(labels, MappingABC):
            outside = [k for k in labels if not 0 <= k < self.num_classes]
            if outside:
                raise ModelError(f"labels name class {outside[0]}, but the model returns {self.num_classes} classes")
        elif len(labels) != self.num_classes:
            raise ModelError(f"{len(labels)} labels given but the model returns {self.num_classes} classes")

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _several_outputs(raw: Any) -> bool:
    """A tuple of outputs, or a list of batch tensors (a list of per-image score rows is one output)."""
    if isinstance(raw, tuple):
        return True
    return isinstance(raw, list) and bool(raw) and all(getattr(item, "ndim", 0) >= 2 for item in raw)


def _has_logits_attribute(raw: Any) -> bool:
    return not isinstance(raw, (tuple, list, np.ndarray)) and hasattr(raw, "logits") and not callable(raw.logits)


def _from_mapping(raw: Any, index: int | str | None) -> Any:
    """The scores in a dict or a HuggingFace-style output object (its ``logits``)."""
    if not isinstance(raw, MappingABC):
        if index is not None and index != "logits":
            raise InputError(f"output_index={index!r}, but the model returns a {type(raw).__name__} with .logits")
        return raw.logits
    key = "logits" if index is None else index
    if key not in raw:
        keys = sorted(map(str, raw))
        raise ModelError(f"the model returns a dict with keys {keys} and no {key!r}; "
                         "pass output_index=<key> to say which one holds the class scores")
    return raw[key]


class CallableAdapter(ModelAdapter):
    """A plain function ``f(batch N×H×W×C) -> N×K`` (numpy in, array-like out)."""

    framework = "callable"
