"""`explain_many`: explain many images, stream the results to a directory, resume where a run stopped."""

from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from xaihub.core.errors import InputError
from xaihub.core.image_sources import SourceImage, image_source
from xaihub.core.masks import MASK_PARAMETER, object_masks
from xaihub.core.targets import Targets
from xaihub.models import ModelOptions
from xaihub.run.executors import ImageResult, ImageTask, open_executor
from xaihub.run.fingerprint import run_fingerprint
from xaihub.run.measure import MetricRequests, check_metrics, metrics_taking
from xaihub.run.progress import progress_bar
from xaihub.run.run_directory import INDEX_NAME, RESUME_MODES, RunDirectory, explanation_file, record
from xaihub.run.runner import check_methods, explain

_MODEL_OPTIONS = ("preprocess", "labels", "batch_size", "output", "device")


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
    """The failure lines of this call, as written to the index."""

    def __str__(self) -> str:
        lines = [f"{self.images} images: {self.done} explanations saved, {self.skipped} skipped (already done), "
                 f"{self.failed} failed, in {self.seconds:.1f} s; index: {self.index}"]
        for method, stats in self.methods.items():
            lines.append(f"  {method}: {stats.images} images, {stats.seconds:.2f} s, "
                         f"{stats.images_per_second:.2f} images/s")
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
    **explain_kwargs: Any,
) -> BatchSummary:
    """Explain every image with every method; save each explanation under ``out`` as it completes.

    :param model: as for :func:`xaihub.explain`; with Dask it must be picklable (a torch module,
        or a function defined at module level in an importable module).
    :param images: a folder of image files, an ``N×H×W×C`` array, a ``{id: image}`` mapping, or a
        list / iterable of images (see :func:`xaihub.core.image_sources.image_source`).
    :param methods, targets, seed, params: as for :func:`xaihub.explain`, the same for every image.
    :param out: the run directory (created if needed): ``index.jsonl`` plus one ``.npz`` per
        explanation (see :mod:`xaihub.run.run_directory`). Calling again with the same ``out`` skips what
        is done and redoes the rest. One process at a time may write it: a second is refused.
    :param executor: ``None`` (this process), ``"dask"`` (a local Dask cluster, closed at the end) or
        a ``dask.distributed.Client``.
    :param ids: one id per image, instead of file stems / positions.
    :param progress: one bar for the whole run; default: only when stderr is a terminal.
    :param resume: what to do when ``out`` holds results made with another setup (model,
        preprocessing, output, metrics, seed, targets or a method's parameters, as recorded in
        ``run.json``): ``"check"`` (default) refuses with an :class:`InputError` naming the fields that
        differ; ``"overwrite"`` deletes the results xaihub wrote there and starts over; ``"force"``
        keeps them and adds the new ones (``run.json`` lists the earlier setups under ``"earlier"``).
    :param model_id: names the model in the fingerprint instead of its weights (torch, Keras) or the
        qualified name of a predict function; pass it when that name does not identify the model
        (a closure, a lambda, a callable object whose state matters).
    :param masks: each image's object mask, by image id (a folder of mask images matched by file stem, a
        ``{id: H×W array}`` mapping, an ``N×H×W`` array or a list; see :func:`xaihub.core.masks.object_masks`),
        given as ``mask`` to every requested metric that takes one (``quantus.pointing_game``,
        ``quantus.relevance_mass_accuracy``); an image without a mask is explained without those metrics.
    :param explain_kwargs: passed on to :func:`xaihub.explain` (``preprocess``, ``labels``, ...).
    :return: a :class:`BatchSummary`. An image that cannot be read or scored is recorded as failed
        and the run goes on.
    """
    start = time.perf_counter()
    methods = check_methods(methods)
    params = {m: dict(p) for m, p in (params or {}).items()}
    _check_arguments(methods, params, explain_kwargs)
    if resume not in RESUME_MODES:
        raise InputError(f"resume must be one of {RESUME_MODES}, got {resume!r}")
    source = image_source(images, ids)
    requests = check_metrics(explain_kwargs.get("metrics"), per_image=(MASK_PARAMETER,) if masks is not None else ())
    masks = _masks_for(requests, masks)
    fingerprint = run_fingerprint(
        model=model, model_id=model_id, preprocess=explain_kwargs.get("preprocess"),
        output=explain_kwargs.get("output", "auto"), metrics=requests, masks=masks, seed=seed, targets=targets,
        params={m: params.get(m, {}) for m in methods},
    )
    kwargs = {**explain_kwargs, "targets": targets, "seed": seed, "params": params, "progress": False}
    with RunDirectory.open(out) as directory:
        directory.reconcile(fingerprint, resume)
        run = _Run(directory, methods, directory.completed_pairs(), requests, masks)
        with progress_bar(total=source.count, progress=progress, desc="explaining images", unit="image") as bar, \
                open_executor(executor) as runner:
            run.bar = bar
            for result in runner.run(model, run.tasks(source.items), kwargs):
                run.write(result)
    run.summary.seconds = time.perf_counter() - start
    return run.summary


def _masks_for(requests: MetricRequests, masks: Any) -> dict[str, Any] | None:
    if masks is None:
        return None
    if not metrics_taking(requests, MASK_PARAMETER):
        raise InputError("masks are given but no requested metric takes a mask: ask for quantus.pointing_game "
                         "or quantus.relevance_mass_accuracy in metrics=")
    return object_masks(masks)


class _Run:
    """The driver's side of a run: decides what to skip, and is the only writer of files and index."""

    def __init__(self, directory: RunDirectory, methods: list[str], done: dict[tuple[str, str], int],
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

    def tasks(self, items: Iterable[SourceImage]) -> Iterator[ImageTask]:
        seen: set[str] = set()
        for item in items:
            self.summary.images += 1
            if item.id in seen:
                self.write(ImageResult(ImageTask(item, self.methods), error="InputError",
                                       message=f"image id {item.id!r} appears twice; pass distinct ids="))
                continue
            seen.add(item.id)
            todo = [m for m in self.methods if (item.id, m) not in self.done]
            self.summary.skipped += sum(self.done.get((item.id, m), 0) for m in self.methods)
            if todo:
                yield ImageTask(item, todo, self._image_metrics(item.id))
            else:
                self._advance()

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


def _check_arguments(methods: list[str], params: dict[str, dict[str, Any]], explain_kwargs: dict[str, Any]) -> None:
    """Refuse, before any image runs, what would make every image fail."""
    stray = sorted(set(params) - set(methods))
    if stray:
        raise InputError(f"params given for {stray}, which are not among methods {methods}")
    accepted = set(inspect.signature(explain).parameters) - {"model", "image", "methods", "targets", "seed",
                                                               "params", "progress"}
    unknown = sorted(set(explain_kwargs) - accepted)
    if unknown:
        raise InputError(f"explain_many got unknown argument(s) {unknown}; it passes on {sorted(accepted)}")
    ModelOptions(**{k: explain_kwargs[k] for k in _MODEL_OPTIONS if k in explain_kwargs})
