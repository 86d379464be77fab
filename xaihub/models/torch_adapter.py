"""Adapter for PyTorch ``nn.Module`` models. Imports torch only when such a model arrives."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from xaihub.errors import InputError, ModelError
from xaihub.models.base import ModelAdapter, class_scores

AUTOCAST_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


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
        return tensor.to(device=self.device, dtype=self.dtype)  # channels-last strides are fine for conv

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

    @property
    def accepts_device_batches(self) -> bool:
        """Whether :meth:`predict_pixels` can run: only with the default preprocessing, which
        is known to work on tensors (a user's ``preprocess`` may expect numpy)."""
        return self.options.preprocess is None

    def predict_pixels(self, images: Any, autocast: str | None = None, unit_scale: bool = False) -> Any:
        """Probabilities ``N×K`` (float64, on the device) for ``N×H×W×C`` image tensors on the device.

        The fast path for methods that build perturbed images in torch: no host round trip
        and no numpy copies. ``images`` are in pixel scale ``[0, 255]``, or already divided
        by 255 when ``unit_scale``. ``autocast`` is ``None``, ``"bf16"`` or ``"fp16"``.
        """
        import torch

        if not self.accepts_device_batches:
            raise ModelError("predict_pixels needs the default preprocessing; this model has a custom preprocess")
        if autocast is not None and autocast not in AUTOCAST_DTYPES:
            raise InputError(f"autocast must be None or one of {sorted(AUTOCAST_DTYPES)}, got {autocast!r}")
        device = self.device
        x = images.to(device=device, dtype=self.dtype)
        if not unit_scale:
            x = x / 255.0
        if self.options.channels_first:
            x = x.permute(0, 3, 1, 2)  # a view: channels-last strides, which CPU and GPU convolutions like
        context = (torch.autocast(device.type, dtype=getattr(torch, AUTOCAST_DTYPES[autocast]))
                   if autocast else contextlib.nullcontext())
        with torch.no_grad(), self.session(), context:
            out = class_scores(self.model(x))
        self.count_forward(len(images))
        return self._normalise_tensor(out.double(), len(images))

    def _normalise_tensor(self, out: Any, n: int) -> Any:
        import torch

        if out.ndim == 1 and out.shape[0] == n:
            out = out[:, None]
        finite = bool(torch.isfinite(out).all())
        low, high = (float(out.min()), float(out.max())) if finite and out.numel() else (0.0, 0.0)
        self._check_scores(tuple(out.shape), n, finite, low, high)
        if self.output_kind == "logits":
            return torch.softmax(out, dim=1)
        if self.output_kind == "multilabel-logits":
            return torch.sigmoid(out)
        return out

    def _forward(self, batch: Any) -> np.ndarray:
        return class_scores(self.model(self._as_input(batch))).detach().float().cpu().numpy()
