"""Scores of a sequence of image batches, computed once and replayed when the same sequence comes again.

captum's ``Lime`` and ``KernelShap`` explain one target per run (their surrogate takes one score per
image). Run once per target from the same seed, they evaluate the same perturbed images in the same
order: the first run computes every class's scores, later runs get them back, so all targets cost the
forward passes of one run. Each batch is compared with a fingerprint of the one recorded at its position
and scored afresh when it differs, so a replay is never wrong, only saved.
"""

from __future__ import annotations

from typing import Any, Callable


class ReplayedScores:
    """Wraps ``scores`` (``N×C×H×W`` → ``N×K``); call :meth:`rewind` before each run."""

    def __init__(self, scores: Callable[[Any], Any]) -> None:
        self._scores = scores
        self._recorded: list[tuple[Any, Any]] = []
        self._position = 0
        self._weights: Any = None
        self.replayed = 0
        """Images whose scores came from the record."""

    def rewind(self) -> None:
        self._position = 0

    def __call__(self, images: Any) -> Any:
        import torch

        fingerprint = self._fingerprint(images)
        if self._position < len(self._recorded):
            known, scores = self._recorded[self._position]
            if known.shape == fingerprint.shape and torch.equal(known, fingerprint):
                self._position += 1
                self.replayed += len(images)
                return scores
        scores = self._scores(images)
        self._recorded[self._position:] = [(fingerprint, scores)]
        self._position += 1
        return scores

    def _fingerprint(self, images: Any) -> Any:
        """Two weighted sums per image: by ones and by fixed pseudo-random weights."""
        import torch

        flat = images.reshape(len(images), -1)
        if self._weights is None or self._weights.shape[0] != flat.shape[1]:
            generator = torch.Generator().manual_seed(0)  # its own generator: the seeded global ones stay as they are
            random = torch.rand(flat.shape[1], generator=generator)
            self._weights = torch.stack([torch.ones_like(random), random], dim=1).to(flat.device, flat.dtype)
        return flat @ self._weights
