"""The one progress-bar rule of `explain` and `explain_many`, and the display of one `explain` call."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xaihub.models import ModelAdapter


def progress_bar(iterable: Any = None, *, progress: bool | None, **options: Any) -> Any:
    """A tqdm bar, shown when ``progress`` is true or, when it is ``None``, when stderr is a terminal."""
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(iterable, disable=not show, **options)


class MethodProgress:
    """What one ``explain`` call shows while it runs: a bar over the methods and, beneath it, the forward
    passes of the step running now, counted as they happen (the adapter reports them through
    :attr:`~xaihub.models.ModelAdapter.on_forward`), so a method that runs for minutes is not silent.

    Use as a context manager; it stops listening to the adapter when the block ends.
    """

    def __init__(self, adapter: "ModelAdapter", methods: int, progress: bool | None) -> None:
        self.adapter = adapter
        self.methods = progress_bar(total=methods, progress=progress, desc="explaining", unit="method")
        self.passes = progress_bar(progress=progress, unit=" forward passes", position=1, leave=False)

    def __enter__(self) -> "MethodProgress":
        self.adapter.on_forward = self.passes.update
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.adapter.on_forward = None
        self.passes.close()
        self.methods.close()

    def begin(self, step: str) -> None:
        """Count forward passes from zero under the name ``step`` (a method, or its metrics)."""
        self.methods.set_postfix_str(step, refresh=False)
        self.passes.reset()
        self.passes.set_description_str(step)

    def advance(self) -> None:
        """One more method is done."""
        self.methods.update(1)
