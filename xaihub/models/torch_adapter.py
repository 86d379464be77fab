"""Adapter for PyTorch ``nn.Module`` models. Imports torch only when such a model arrives."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from xaihub.models.base import ModelAdapter


class TorchAdapter(ModelAdapter):
    """Runs a torch module in eval mode under ``no_grad``; restores its mode afterwards.

    Inputs go to ``options.device`` or the device of the model's first parameter.
    Gradient plugins use :meth:`to_tensor` and :meth:`session`.
    """

    framework = "torch"

    @property
    def device(self) -> Any:
        import torch

        if self.options.device is not None:
            return torch.device(self.options.device)
        param = next(self.model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    @property
    def dtype(self) -> Any:
        import torch

        param = next(self.model.parameters(), None)
        return param.dtype if param is not None and param.is_floating_point() else torch.float32

    def to_tensor(self, images: np.ndarray) -> Any:
        """Preprocessed model input for ``images`` (pixel scale ``N×H×W×C``), on the model's device."""
        return self._as_input(self.prepare(images))

    def _as_input(self, batch: Any) -> Any:
        import torch

        tensor = batch if isinstance(batch, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(batch))
        if self.options.channels_first and tensor.ndim == 4:
            tensor = tensor.permute(0, 3, 1, 2)
        return tensor.to(device=self.device, dtype=self.dtype).contiguous()

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        was_training = self.model.training
        self.model.eval()
        try:
            yield
        finally:
            self.model.train(was_training)

    def predict(self, images: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return super().predict(images)

    def _forward(self, batch: Any) -> np.ndarray:
        out = self.model(self._as_input(batch))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.detach().float().cpu().numpy()
