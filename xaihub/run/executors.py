"""Where `explain_many` runs its tasks (one image, all its methods): in this process or on Dask.

Executors only compute; results come back to the driver, which alone writes files, so the
run's index stays consistent whatever runs the tasks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from xaihub.core.comparison import Comparison
from xaihub.core.errors import InputError
from xaihub.core.image_sources import SourceImage
from xaihub.run.runner import explain


@dataclass
class ImageTask:
    """Explain one image with the methods it still lacks."""

    source: SourceImage
    methods: list[str]
    metrics: dict[str, dict[str, Any]] | None = None
    """This image's own metric requests (with its object ``mask``), in place of the run's."""
    targets: Any = None
    """This image's own targets, in place of the run's (``None``: the run's)."""


@dataclass
class ImageResult:
    """What a task produced: a comparison, or why the whole image failed."""

    task: ImageTask
    comparison: Comparison | None = None
    error: str | None = None
    """Exception class name when the image could not be explained at all."""
    message: str = ""
    seconds: float = 0.0


def explain_image(model: Any, task: ImageTask, explain_kwargs: dict[str, Any]) -> ImageResult:
    """Run :func:`xaihub.explain` on one image; any exception becomes a failed result, never a raise."""
    start = time.perf_counter()
    if task.metrics is not None:
        explain_kwargs = {**explain_kwargs, "metrics": task.metrics}
    if task.targets is not None:
        explain_kwargs = {**explain_kwargs, "targets": task.targets}
    try:
        comparison = explain(model, task.source.image, methods=task.methods, **explain_kwargs)
    except Exception as exc:
        return ImageResult(task, error=type(exc).__name__, message=str(exc) or repr(exc),
                           seconds=time.perf_counter() - start)
    return ImageResult(task, comparison=comparison, seconds=time.perf_counter() - start)


class InProcessExecutor:
    """Runs tasks one after another in this process."""

    def run(self, model: Any, tasks: Iterable[ImageTask], explain_kwargs: dict[str, Any]) -> Iterator[ImageResult]:
        for task in tasks:
            yield explain_image(model, task, explain_kwargs)


class DaskExecutor:
    """Runs tasks on a ``dask.distributed`` cluster, yielding results as they complete.

    The model is scattered to every worker once; each task then refers to it. At most
    ``2 × threads`` tasks are in flight, so a lazy iterable of images is never read ahead.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, model: Any, tasks: Iterable[ImageTask], explain_kwargs: dict[str, Any]) -> Iterator[ImageResult]:
        from distributed import as_completed

        try:
            shared_model = self.client.scatter(model, broadcast=True, hash=False)
        except Exception as exc:
            raise InputError(unshippable(model, exc)) from exc
        window = max(2, 2 * sum(self.client.nthreads().values()))
        tasks = iter(tasks)
        submitted: dict[Any, ImageTask] = {}
        running = as_completed()

        def submit_next() -> None:
            task = next(tasks, None)
            if task is not None:
                future = self.client.submit(explain_image, shared_model, task, explain_kwargs, pure=False)
                submitted[future] = task
                running.add(future)

        try:
            for _ in range(window):
                submit_next()
            for future in running:
                yield self._result(future, submitted.pop(future))
                future.release()
                submit_next()
        finally:
            for future in submitted:
                future.cancel()
            shared_model.release()

    @staticmethod
    def _result(future: Any, task: ImageTask) -> ImageResult:
        if future.status == "finished":
            return future.result()
        try:
            exc = future.exception()
        except Exception as lost:  # cancelled futures raise instead of returning their exception
            exc = lost
        return ImageResult(task, error=type(exc).__name__, message=f"task {future.status} on the cluster: {exc}")


def check_shippable(model: Any, executor: Any) -> None:
    """Refuse, before a local cluster starts (``executor="dask"``) or any work is done, a model that cannot be
    pickled to its worker processes (a TorchScript module, a callable holding a lock, ...). A given
    ``Client`` is left to try: its cluster may run threads in this process, which need no pickling."""
    if executor != "dask":
        return
    import pickle

    try:
        pickle.dumps(model)
        return
    except Exception as exc:  # pickle raises many kinds for objects it cannot serialise
        failure = exc
    try:
        import cloudpickle

        cloudpickle.dumps(model)
    except ImportError:
        pass
    except Exception as exc:
        failure = exc
    else:
        return
    raise InputError(unshippable(model, failure)) from failure


def unshippable(model: Any, exc: BaseException) -> str:
    """Why a model cannot go to Dask workers, and what to pass instead."""
    named = f"{type(model).__module__}.{type(model).__qualname__}"
    scripted = "torch.jit" in named or "ScriptModule" in named or "ScriptFunction" in named
    return (f"cannot ship the model to the Dask workers: it cannot be pickled ({type(exc).__name__}: {exc}); "
            + ("a TorchScript module cannot be: " if scripted else "")
            + "pass a plain torch.nn.Module (or a function defined at module level in an importable module), "
            "or run in this process with executor=None")


@contextlib.contextmanager
def open_executor(executor: Any) -> Iterator[InProcessExecutor | DaskExecutor]:
    """The executor named by ``explain_many(executor=...)``; one it started is closed afterwards.

    ``None`` or ``"in-process"``: this process. ``"dask"``: a local Dask cluster (one worker
    process per core), closed at the end. A ``dask.distributed.Client``: its cluster, left open.
    """
    if executor is None or executor == "in-process":
        yield InProcessExecutor()
    elif executor == "dask":
        try:
            from distributed import Client
        except ImportError as exc:
            raise InputError("executor='dask' needs dask.distributed: pip install 'xaihub[dask]'") from exc
        with local_cluster(processes=True, host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster) as client:
            yield DaskExecutor(client)
    elif _is_dask_client(executor):
        yield DaskExecutor(executor)
    else:
        raise InputError(
            f"executor must be None, 'in-process', 'dask' or a dask.distributed.Client, got {executor!r}"
        )


@contextlib.contextmanager
def local_cluster(**options: Any) -> Iterator[Any]:
    """A ``distributed.LocalCluster`` that leaves this process's environment as it found it.

    Starting its workers sets ``OMP_NUM_THREADS=1`` (and more) in the *parent's* ``os.environ``;
    a framework imported afterwards would then run single-threaded, and train differently.
    """
    from distributed import LocalCluster

    saved = dict(os.environ)
    try:
        cluster = LocalCluster(**options)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with cluster:
        yield cluster


def _is_dask_client(executor: Any) -> bool:
    if "distributed" not in sys.modules:
        return False
    from distributed import Client

    return isinstance(executor, Client)
