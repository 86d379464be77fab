"""`explain_many`: explain many images, stream the results to a directory, resume where a run stopped."""

from __future__ import annotations

import inspect
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from xaihub.core.errors import InputError
from xaihub.core.image_sources import SourceImage, image_source
from xaihub.core.masks import MASK_PARAMETER, object_masks
from xaihub.core.targets import Targets, check_targets
from xaihub.models import ModelOptions
from xaihub.registry.plugins import adapt
from xaihub.run.executors import ImageResult, ImageTask, check_shippable, open_executor
from xaihub.run.fingerprint import describe, image_digest, run_fingerprint
from xaihub.run.measure import MetricRequests, check_metrics, metrics_taking
from xaihub.run.progress import progress_bar
from xaihub.run.run_directory import (
    INDEX_NAME,
    MAX_LINE_BYTES,
    MAX_SETTINGS_BYTES,
    RESUME_MODES,
    RunDirectory,
    _jsonable,
    current_records,
    explanation_file,
    read_index,
    record,
)
from xaihub.run.runner import budgeted, check_methods, check_params, check_seed, explain

_MODEL_OPTIONS = ("preprocess", "labels", "batch_size", "output", "device")
TRUE_LABELS = "true_labels"
"""``explain_many(targets=TRUE_LABELS)``: explain each image's true class, given in ``true_labels``."""
_NO_TARGET = object()


@dataclass
class MethodThroughput:
    """How long one method took over the images of a run."""

    images: int = 0
    """Images the method ran on in this run, failed ones included."""
    seconds: float = 0.0
    """Sum of the method's wall seconds over those images."""

    @property
    def images_per_second(self) -> float:
        """Images per second of this method's own time (not the run's wall time)."""
        return self.images / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class BatchSummary:
    """What one `explain_many` call did. Counts are explanations (image × method × target)."""

    out: str
    index: str
    images: int = 0
    """Images read from the source in this call, skipped ones included."""
    done: int = 0
    """Explanations computed and saved in this call."""
    skipped: int = 0
    """Explanations already in ``out`` from an earlier call."""
    failed: int = 0
    """Failure lines written in this call (a whole-image failure counts once per method)."""
    seconds: float = 0.0
    methods: dict[str, MethodThroughput] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    """The failure lines of this call, as written to the index (and those of an image whose id came twice,
    which are not written: they would hide the first image's results)."""
    ids: list[str] = field(default_factory=list)
    """The ids of this call's images, in order, each once: what a report of this call covers."""
    accuracy: float | None = None
    """With ``true_labels``: the fraction of this call's labelled images (explained now or before) whose
    top-1 class is their true label; ``None`` without true labels or when no labelled image was scored."""
    accuracy_images: int = 0
    """The labelled images :attr:`accuracy` is over."""

    def __str__(self) -> str:
        lines = [f"{self.images} images: {self.done} explanations saved, {self.skipped} skipped (already done), "
                 f"{self.failed} failed, in {self.seconds:.1f} s; index: {self.index}"]
        for method, stats in self.methods.items():
            lines.append(f"  {method}: {stats.images} images, {stats.seconds:.2f} s, "
                         f"{stats.images_per_second:.2f} images/s")
        if self.accuracy is not None:
            lines.append(f"  accuracy (top-1 vs true label): {self.accuracy:.3f} over {self.accuracy_images} images")
        lines += [f"  FAILED {f['image']} {f['method']}: {f['error']}: {f['message']}" for f in self.failures]
        refused: dict[str, set[str]] = {}
        for failure in self.failures:
            if failure.get("error") == "MethodUnavailableError":
                refused.setdefault(str(failure["method"]), set()).add(str(failure["image"]))
        lines += [f"  note: {method} was refused for {len(images)} of {self.images} images (unavailable for them), so "
                  "its statistics rest on the others" for method, images in refused.items()]
        return "\n".join(lines)


def explain_many(
    model: Any,
    images: Any,
    methods: Sequence[str],
    targets: Targets = None,
    *,
    out: str | os.PathLike,
    executor: Any = None,
    ids: Sequence[Any] | None = None,
    seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool | None = None,
    resume: str = "check",
    model_id: str | None = None,
    masks: Any = None,
    true_labels: Mapping[Any, int] | Sequence[int] | None = None,
    budget: str | None = None,
    samples: int | None = None,
    **explain_kwargs: Any,
) -> BatchSummary:
    """Explain every image with every method; save each explanation under ``out`` as it completes.

    :param model: as for :func:`xaihub.explain`; with Dask it must be picklable (a torch module,
        or a function defined at module level in an importable module).
    :param images: a folder of image files, an ``N×H×W×C`` array, a ``{id: image}`` mapping, or a
        list / iterable of images (see :func:`xaihub.core.image_sources.image_source`).
    :param methods: as for :func:`xaihub.explain`, the same for every image.
    :param seed: as for :func:`xaihub.explain`, the same for every image.
    :param params: as for :func:`xaihub.explain`, the same for every image.
    :param targets: as for :func:`xaihub.explain`, the same for every image; or one per image: a
        ``{image id: targets}`` mapping (an image it lacks fails alone), or ``"true_labels"``: each image's
        true class, from ``true_labels`` (an image without one fails alone). A list is always the classes
        of every image, never one per image.
    :param true_labels: each image's true class index, a ``{image id: class}`` mapping or a sequence in the
        order of the images; the summary then reports the model's :attr:`BatchSummary.accuracy`, and
        ``targets="true_labels"`` explains the true class.
    :param out: the run directory (created if needed): ``index.jsonl`` plus one ``.npz`` per
        explanation (see :mod:`xaihub.run.run_directory`). Calling again with the same ``out`` skips what
        is done and redoes the rest. One process at a time may write it: a second is refused.
    :param executor: ``None`` (this process), ``"dask"`` (a local Dask cluster, closed at the end) or
        a ``dask.distributed.Client``.
    :param ids: one id per image, instead of file stems / positions.
    :param progress: one bar for the whole run; default: only when stderr is a terminal.
    :param resume: what to do when ``out`` holds results made with another setup (model,
        preprocessing, output, metrics, seed, targets, labels or a method's parameters, as recorded in
        ``run.json``): ``"check"`` (default) refuses with an :class:`InputError` naming the fields that
        differ; ``"overwrite"`` deletes the results xaihub wrote there and starts over; ``"force"``
        keeps them and adds the new ones (``run.json`` lists the earlier setups under ``"earlier"``).
        Each index line records its image's content (``image_sha256``: the file's bytes, or an array's
        pixels): an image whose content changed under the same id is explained again, never answered with
        the results of the image it replaced.
    :param model_id: names the model in the fingerprint instead of its weights (torch, Keras) or the
        qualified name of a predict function; pass it when that name does not identify the model
        (a closure, a lambda, a callable object whose state matters).
    :param masks: each image's object mask, by image id (a folder of mask images matched by file stem, a
        ``{id: H×W array}`` mapping, an ``N×H×W`` array or a list; see :func:`xaihub.core.masks.object_masks`),
        given as ``mask`` to every requested metric that takes one (``quantus.pointing_game``,
        ``quantus.relevance_mass_accuracy``); an image without a mask is explained without those metrics.
        Masks none of whose ids is an image id are refused; masks of ids that are not among the images are
        named in a warning.
    :param budget: as for :func:`xaihub.explain`; applied before the run, so the run directory records it.
    :param samples: as for :func:`xaihub.explain`.
    :param explain_kwargs: passed on to :func:`xaihub.explain` (``preprocess``, ``labels``, ...).
    :return: a :class:`BatchSummary`. An image that cannot be read or scored is recorded as failed
        and the run goes on.
    """
    start = time.perf_counter()
    methods = check_methods(methods)
    params = budgeted(params, methods, budget, samples)  # applied here, so the run's fingerprint records them
    params = {m: dict(p) for m, p in (params or {}).items()}
    _check_arguments(model, methods, params, seed, explain_kwargs)
    per_image = _check_targets(targets, true_labels)
    if resume not in RESUME_MODES:
        raise InputError(f"resume must be one of {RESUME_MODES}, got {resume!r}")
    check_shippable(model, executor)
    source = image_source(images, ids)
    requests = check_metrics(explain_kwargs.get("metrics"), per_image=(MASK_PARAMETER,) if masks is not None else ())
    masks = _masks_for(requests, masks)
    items: Iterable[SourceImage] = source.items
    if source.count is not None:  # ids known before any work: check the masks against them now
        items = list(items)
        _check_masks(masks, [item.id for item in items], after=False)
        if true_labels is not None and not isinstance(true_labels, Mapping) and len(true_labels) != source.count:
            raise InputError(f"{len(true_labels)} true_labels given for {source.count} images; give one per image, "
                             "or a {image id: class} mapping")
    fingerprint = run_fingerprint(
        model=model, model_id=model_id, preprocess=explain_kwargs.get("preprocess"),
        output=explain_kwargs.get("output", "auto"), metrics=requests, masks=masks, seed=seed,
        targets={TRUE_LABELS: describe(true_labels)} if targets == TRUE_LABELS else targets,
        params={m: params.get(m, {}) for m in methods}, labels=explain_kwargs.get("labels"),
    )
    _check_settings_size(fingerprint)
    kwargs = {**explain_kwargs, "targets": None if per_image is not None else targets, "seed": seed,
              "params": params, "progress": False}
    with RunDirectory.open(out) as directory:
        directory.reconcile(fingerprint, resume)
        run = _Run(directory, methods, directory.completed_images(), requests, masks)
        run.per_image, run.true_labels = per_image, true_labels
        with progress_bar(total=source.count, progress=progress, desc="explaining images", unit="image") as bar, \
                open_executor(executor) as runner:
            run.bar = bar
            for result in runner.run(model, run.tasks(items), kwargs):
                run.write(result)
    if source.count is None:
        _check_masks(masks, run.summary.ids, after=True)
    if true_labels is not None:
        run.measure_accuracy()
    run.summary.seconds = time.perf_counter() - start
    return run.summary


def _check_masks(masks: dict[str, Any] | None, ids: list[str], after: bool) -> None:
    """Masks none of which names an image are refused (before the run) or warned of (after a run over an
    iterable, whose ids were not known before); masks of ids that are not images' are named in a warning."""
    if not masks or not ids:
        return
    unmatched = sorted(set(masks) - set(ids))
    if len(unmatched) == len(masks):
        message = (f"none of the {len(masks)} masks matches an image id (masks: {_some(sorted(masks))}; images: "
                   f"{_some(ids)}); name each mask like its image (file stem, key or position)")
        if not after:
            raise InputError(message)
        warnings.warn(f"{message}; the localisation metrics were not computed", UserWarning, stacklevel=3)
    elif unmatched:
        warnings.warn(f"{len(unmatched)} mask(s) match no image id and are not used: {_some(unmatched)}",
                      UserWarning, stacklevel=3)


def _some(names: list[str], shown: int = 5) -> str:
    return ", ".join(repr(n) for n in names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _masks_for(requests: MetricRequests, masks: Any) -> dict[str, Any] | None:
    if masks is None:
        return None
    if not metrics_taking(requests, MASK_PARAMETER):
        raise InputError("masks are given but no requested metric takes a mask: ask for quantus.pointing_game "
                         "or quantus.relevance_mass_accuracy in metrics=")
    return object_masks(masks)


class _Run:
    """The driver's side of a run: decides what to skip, and is the only writer of files and index."""

    def __init__(self, directory: RunDirectory, methods: list[str], done: dict[tuple[str, str], tuple[int, str | None]],
                 requests: MetricRequests, masks: dict[str, Any] | None) -> None:
        self.directory = directory
        self.methods = methods
        self.done = done
        self.requests = requests
        self.masks = masks
        self.taking = metrics_taking(requests, MASK_PARAMETER) if masks is not None else []
        self.summary = BatchSummary(out=directory.path, index=os.path.join(directory.path, INDEX_NAME),
                                    methods={m: MethodThroughput() for m in methods})
        self.bar: Any = None
        self.digests: dict[str, str | None] = {}
        self.per_image: Mapping[str, Any] | str | None = None
        self.true_labels: Any = None
        self.truth: dict[str, int | None] = {}

    def tasks(self, items: Iterable[SourceImage]) -> Iterator[ImageTask]:
        seen: set[str] = set()
        for item in items:
            self.summary.images += 1
            if item.id in seen:  # told, but not written: a line under this id would hide the first image's
                self.summary.failed += len(self.methods)
                self.summary.failures += [record(image=item.id, method=m, status="failed", error="InputError",
                                                 message=f"image id {item.id!r} appears twice; pass distinct ids=")
                                          for m in self.methods]
                self._advance()
                continue
            seen.add(item.id)
            self.summary.ids.append(item.id)
            self.truth[item.id] = _true_label(self.true_labels, item.id, self.summary.images - 1)
            digest = self.digests[item.id] = image_digest(item.image)
            done = {m: self.done[(item.id, m)][0] for m in self.methods if self._done(item.id, m, digest)}
            todo = [m for m in self.methods if m not in done]
            self.summary.skipped += sum(done.values())
            if not todo:
                self._advance()
                continue
            task = ImageTask(item, todo, self._image_metrics(item.id))
            if self.per_image is not None:
                targets = self._targets(item.id)
                if targets is _NO_TARGET:
                    self.write(ImageResult(task, error="InputError", message=f"no target given for image "
                                           f"{item.id!r}" + (" (it has no true label)" if self.per_image == TRUE_LABELS
                                                             else " in the targets mapping")))
                    continue
                task.targets = targets
            yield task

    def _targets(self, image_id: str) -> Any:
        if self.per_image == TRUE_LABELS:
            label = self.truth.get(image_id)
            return _NO_TARGET if label is None else label
        return self.per_image.get(image_id, _NO_TARGET)

    def measure_accuracy(self) -> None:
        """:attr:`BatchSummary.accuracy` over this call's labelled images, from the top-1 class recorded on
        their index lines (this call's or an earlier call's) and the true labels given now."""
        predicted = {line["image"]: line.get("predicted") for line in current_records(read_index(self.directory.path))
                     if line.get("predicted") is not None}
        scored = [(predicted[i], label) for i, label in self.truth.items() if label is not None and i in predicted]
        self.summary.accuracy_images = len(scored)
        self.summary.accuracy = sum(p == t for p, t in scored) / len(scored) if scored else None

    def _done(self, image_id: str, method: str, digest: str | None) -> bool:
        """Whether ``method``'s results for this image are on disk and were made from this image's content
        (lines without a recorded content, from an older xaihub, are taken as they are)."""
        found = self.done.get((image_id, method))
        return found is not None and (found[1] is None or digest is None or found[1] == digest)

    def _image_metrics(self, image_id: str) -> MetricRequests | None:
        """With masks, this image's metric requests: each metric that takes a mask gets the image's, or is left
        out for an image without one; ``None`` (the run's requests) without masks."""
        if self.masks is None:
            return None
        mask = self.masks.get(image_id)
        return {name: {**params, MASK_PARAMETER: mask} if name in self.taking else params
                for name, params in self.requests.items() if mask is not None or name not in self.taking}

    def write(self, result: ImageResult) -> None:
        image_id = result.task.source.id
        if result.comparison is None:
            lines = [record(image=image_id, method=m, status="failed", error=result.error,
                            message=result.message, seconds=result.seconds) for m in result.task.methods]
        else:
            lines = self._save(image_id, result)
        predicted = None if result.comparison is None else int(result.comparison.probabilities.argmax())
        for line in lines:
            line.update(image_sha256=self.digests.get(image_id), true_label=self.truth.get(image_id),
                        predicted=predicted)
        lines = [_readable(line) for line in lines]  # never a line the index reader would skip
        self.directory.append_index(lines)
        failures = [line for line in lines if line["status"] == "failed"]
        self.summary.done += len(lines) - len(failures)
        self.summary.failed += len(failures)
        self.summary.failures += failures
        self._advance()

    def _save(self, image_id: str, result: ImageResult) -> list[dict[str, Any]]:
        comparison = result.comparison
        lines = []
        for explanation in comparison.explanations:
            file = explanation_file(image_id, explanation.method, explanation.target)
            try:
                size, digest = self.directory.save_explanation(explanation, file)
            except (InputError, OSError) as exc:  # this file cannot be written; the run goes on
                lines.append(record(image=image_id, method=explanation.method, target=explanation.target,
                                    status="failed", error=type(exc).__name__, message=f"cannot save {file}: {exc}",
                                    seconds=explanation.seconds, targets=comparison.targets))
                continue
            lines.append(record(
                image=image_id, method=explanation.method, target=explanation.target, status="ok",
                label=explanation.label, score=explanation.score, seconds=explanation.seconds,
                forward_passes=explanation.forward_passes, reused_seconds=explanation.reused_seconds,
                reused_forward_passes=explanation.reused_forward_passes, file=file, bytes=size, sha256=digest,
                targets=comparison.targets, seed=explanation.seed, extras=explanation.extras,
                metrics=explanation.metrics,
            ))
        for failure in comparison.failures:
            lines.append(record(image=image_id, method=failure.method, target=failure.target, status="failed",
                                error=failure.error, message=failure.message,
                                seconds=comparison.timings.get(failure.method), targets=comparison.targets))
        for method, seconds in comparison.timings.items():
            stats = self.summary.methods[method]
            stats.images += 1
            stats.seconds += seconds
        return lines

    def _advance(self) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        self.bar.set_postfix({m: f"{s.images_per_second:.2f}/s" for m, s in self.summary.methods.items()
                              if s.images}, refresh=False)


def _check_targets(targets: Any, true_labels: Any) -> Mapping[str, Any] | str | None:
    """Check ``targets`` and ``true_labels`` before any work; return the per-image targets (a mapping by
    image id, or :data:`TRUE_LABELS`), or ``None`` when every image has the same ``targets``."""
    if true_labels is not None:
        values = list(true_labels.values()) if isinstance(true_labels, Mapping) else true_labels
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise InputError("true_labels must map image ids to class indices, or list one class index per image; "
                             f"got {type(true_labels).__name__}")
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0]
        if bad:
            raise InputError(f"true_labels must be class indices (ints from 0), got {bad[0]!r}")
    if isinstance(targets, str) and targets == TRUE_LABELS:
        if true_labels is None:
            raise InputError(f"targets={TRUE_LABELS!r} explains each image's true class: pass true_labels= too")
        return TRUE_LABELS
    if isinstance(targets, Mapping):
        for image_id, image_targets in targets.items():
            try:
                check_targets(image_targets)
            except InputError as exc:
                raise InputError(f"targets of image {image_id!r}: {exc}") from None
        return {str(image_id): image_targets for image_id, image_targets in targets.items()}
    check_targets(targets)
    return None


def _true_label(true_labels: Any, image_id: str, position: int) -> int | None:
    if true_labels is None:
        return None
    if isinstance(true_labels, Mapping):
        label = true_labels.get(image_id, true_labels.get(int(image_id)) if image_id.isdigit() else None)
    else:
        label = true_labels[position] if position < len(true_labels) else None
    return None if label is None else int(label)


def _check_arguments(model: Any, methods: list[str], params: dict[str, dict[str, Any]], seed: Any,
                     explain_kwargs: dict[str, Any]) -> None:
    """Refuse, before any image runs (and before ``run.json`` records them), what would make every image
    fail: a bad seed, method parameters, model options (labels, device, output, ...), a model no adapter takes."""
    stray = sorted(set(params) - set(methods))
    if stray:
        raise InputError(f"params given for {stray}, which are not among methods {methods}")
    accepted = set(inspect.signature(explain).parameters) - {"model", "image", "methods", "targets", "seed",
                                                               "params", "progress", "budget", "samples"}
    unknown = sorted(set(explain_kwargs) - accepted)
    if unknown:
        raise InputError(f"explain_many got unknown argument(s) {unknown}; it passes on {sorted(accepted)}")
    check_seed(seed)
    check_params(params, methods)
    options = ModelOptions(**{k: explain_kwargs[k] for k in _MODEL_OPTIONS if k in explain_kwargs})
    adapt(model, options)  # a model of no known kind, or a device it cannot use, fails here, not on every image


def _check_settings_size(fingerprint: Mapping[str, Any]) -> None:
    """Refuse, before the run directory is touched, a run whose description would be too long for ``run.json``'s
    reader (:data:`~xaihub.run.run_directory.MAX_SETTINGS_BYTES`): a resume could not read it back."""
    size = len(json.dumps(fingerprint, indent=1, default=_jsonable).encode())
    if size > MAX_SETTINGS_BYTES:
        largest = sorted(fingerprint, key=lambda name: len(json.dumps(fingerprint[name], default=_jsonable)),
                         reverse=True)[:2]
        raise InputError(f"this run's description (run.json) would take {size} bytes, over the {MAX_SETTINGS_BYTES} "
                         f"a resume reads; its largest parts: {', '.join(largest)} (shorten them; arrays are recorded by their "
                         "SHA-256 alone)")


MESSAGE_CHARS = 16_384
"""The longest failure message an index line keeps (the rest is cut, saying how much)."""


def _line_bytes(line: Mapping[str, Any]) -> int:
    """The bytes ``line`` takes in ``index.jsonl``, as :meth:`RunDirectory.append_index` writes it."""
    return len(json.dumps(line, default=_jsonable).encode()) + 1


def _readable(line: dict[str, Any]) -> dict[str, Any]:
    """``line`` as it can be written and read back: the index reader skips a line over
    :data:`~xaihub.run.run_directory.MAX_LINE_BYTES`, so the writer never writes one.

    A long failure message is cut to :data:`MESSAGE_CHARS`; a line still too long (huge extras or a huge
    label) becomes a failure of its (image, method, target) that names the largest fields. A line that
    cannot fit even then (an image id or method name of about a megabyte) stops the run with an
    :class:`InputError`, before anything unreadable is written.
    """
    if _line_bytes(line) <= MAX_LINE_BYTES:
        return line
    fitted = dict(line)
    message = fitted.get("message")
    if isinstance(message, str) and len(message) > MESSAGE_CHARS:
        fitted["message"] = f"{message[:MESSAGE_CHARS]}... ({len(message) - MESSAGE_CHARS} more characters cut)"
        if _line_bytes(fitted) <= MAX_LINE_BYTES:
            return fitted
    size = _line_bytes(fitted)
    largest = sorted((name for name, value in fitted.items() if value is not None),
                     key=lambda name: _line_bytes({name: fitted[name]}), reverse=True)[:2]
    failure = record(image=line.get("image"), method=line.get("method"), target=line.get("target"),
                     targets=line.get("targets"), status="failed", error="InputError", seconds=line.get("seconds"),
                     image_sha256=line.get("image_sha256"), true_label=line.get("true_label"),
                     predicted=line.get("predicted"),
                     message=f"its index line would take {size} bytes, over the {MAX_LINE_BYTES} bytes the index "
                             f"reader takes; its largest fields: {', '.join(largest)} (shorten them: extras, labels "
                             f"or the image id)")
    if _line_bytes(failure) > MAX_LINE_BYTES:
        raise InputError(f"an index line of image id {str(line.get('image'))[:60]!r}... / method "
                         f"{str(line.get('method'))[:60]!r} cannot fit in {MAX_LINE_BYTES} bytes: the image id "
                         "or the method name is too long")
    return failure
