"""How every captum method of this plugin runs: seeded, quiet, on a model left as it was, targets in batches."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Sequence

from xaihub.models import GradientAdapter

_SEED_RANGE = 2**63


@contextlib.contextmanager
def captum_run(model: GradientAdapter, seed: int) -> Iterator[None]:
    """Inside the block torch's random state (CPU and the model's device) and numpy's global one are
    seeded with ``seed`` and put back after it, captum's warnings are silenced, and the user's module gets
    its hooks, train/eval modes and ``.grad`` back afterwards.

    captum draws noise, permutations and masks from torch's global generators and GradientShap's
    interpolation points and baseline choices from numpy's, so equal seeds give equal maps and the
    caller's random streams are untouched.
    """
    import torch

    from xaihub.core.seeding import seeded_global_numpy
    from xaihub.models.torch_state import restored

    with torch.random.fork_rng(devices=_cuda_devices(model)), seeded_global_numpy(seed), restored(model.model), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reseed(model, seed)
        yield


def reseed(model: GradientAdapter, seed: int) -> None:
    """Seed torch's generators for the CPU and the model's device (inside :func:`captum_run`)."""
    import torch

    torch.random.default_generator.manual_seed(seed % _SEED_RANGE)
    for index in _cuda_devices(model):
        with torch.cuda.device(index):
            torch.cuda.manual_seed(seed % _SEED_RANGE)


def batches(targets: Sequence[int], size: int) -> Iterator[list[int]]:
    """``targets`` in consecutive groups of at most ``size`` (at least one per group)."""
    step = max(1, size)
    for start in range(0, len(targets), step):
        yield list(targets[start : start + step])


def repeated(inputs: Any, times: int) -> Any:
    """A ``1×…`` input repeated ``times`` along the batch: one copy per target, for captum's ``target`` list."""
    return inputs.expand(times, *inputs.shape[1:]).contiguous()


def _cuda_devices(model: GradientAdapter) -> list[int]:
    import torch

    device = model.device
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
