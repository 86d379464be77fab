"""Adapter for PyTorch ``nn.Module`` models. Imports torch only when such a model arrives."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Iterator

import numpy as np

from xaihub.core.errors import InputError, ModelError
from xaihub.models.differentiable import GradientAdapter

AUTOCAST_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}
GUARD_TOP = 5
GUARD_TOLERANCE = 0.02
"""``autocast="auto"`` keeps bf16 only when, on the unperturbed image, its top-5 classes are fp32's
(the same five; near-ties may swap places) and no probability differs by more than this."""


class TorchAdapter(GradientAdapter):
    """Runs a torch module in eval mode (under ``no_grad`` for predictions); restores its mode afterwards.

    Inputs go to ``options.device`` or the device of the model's first parameter. A declared
    :class:`~xaihub.Preprocess` runs in torch on that device.
    """

    framework = "torch"

    def __init__(self, model: Any, options: Any = None) -> None:
        super().__init__(model, options)
        if self.options.device is not None:
            self._check_device(self.options.device)
        declared = self.options.declared
        if declared is not None:
            fitted = declared.for_model(_first_conv_channels(model), "the torch model's first Conv2d")
            if fitted is not declared:
                self.options = dataclasses.replace(self.options, preprocess=fitted)

    @staticmethod
    def _check_device(name: str) -> None:
        import torch

        try:
            device = torch.device(name)
        except RuntimeError as exc:
            raise InputError(f"device {name!r} is not a torch device: {exc}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InputError(f"device {name!r} was asked for, but this torch has no CUDA device")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r} was asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)")

    @property
    def device(self) -> Any:
        """The torch device inputs are sent to."""
        import torch

        if self.options.device is not None:
            return torch.device(self.options.device)
        param = next(self.model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    @property
    def dtype(self) -> Any:
        """The floating dtype of the model's parameters (float32 for a parameter-free model)."""
        import torch

        param = next(self.model.parameters(), None)
        return param.dtype if param is not None and param.is_floating_point() else torch.float32

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        modes = [(module, module.training) for module in self.model.modules()]  # each its own: BN frozen in train
        self.model.eval()
        try:
            yield
        finally:
            for module, training in modes:
                module.training = training

    def predict(self, images: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return super().predict(images)

    # -- the gradient surface ---------------------------------------------------------------------
    def gradient_problem(self, image: np.ndarray) -> str | None:
        """A model whose output does not depend on its input in torch's graph (made under ``no_grad``,
        through ``.detach()``, ``.item()`` or numpy) gives gradient methods "element 0 of tensors does not
        require grad"; one forward pass with gradients on (not counted, cached) says so first."""
        if hasattr(self, "_gradient_problem"):
            return self._gradient_problem
        import torch

        problem = None
        try:
            with torch.enable_grad(), self.session():
                inputs = self.differentiable_input(np.asarray(image)[None]).requires_grad_(True)
                x = self._preprocess_pixels(inputs) if self.input_space == "pixels" else inputs
                out = self.select_output(self._guarded(self.score_model(), x))
        except Exception:  # noqa: BLE001 - the method's own call reports what is wrong with the model
            out = None
        if isinstance(out, torch.Tensor) and not out.requires_grad:
            problem = ("the model's output is detached from its input, so no gradient reaches the image: it was "
                       "computed under torch.no_grad() or inference_mode, or through .detach(), .item() or numpy "
                       "inside forward(); gradient methods need a forward() that stays in torch with gradients "
                       "on (methods that only need predictions still work)")
        self._gradient_problem = problem
        return problem

    def differentiable_input(self, images: np.ndarray) -> Any:
        if self.input_space == "pixels":
            return self.from_channels_last(images)
        return self.model_input(images).detach()

    def scores(self, inputs: Any) -> Any:
        x = self._preprocess_pixels(inputs) if self.input_space == "pixels" else inputs
        out = self._guarded(self.score_model(), x)
        self.count_forward(len(inputs))
        return self._checked_scores(self.select_output(out), len(inputs), bounded=self.score_model() is self.model)

    def score_model(self) -> Any:
        import torch

        net = self.model
        if isinstance(net, torch.nn.Sequential) and len(net) > 1 and isinstance(net[-1], torch.nn.Softmax):
            return net[:-1]
        return net

    @property
    def score_kind(self) -> str:
        return "logit" if self.score_model() is not self.model else super().score_kind

    def probabilities(self, scores: Any) -> Any:
        import torch

        if self.score_kind == "logit":
            return torch.softmax(scores, dim=1)
        return torch.sigmoid(scores) if self.score_kind == "multilabel-logit" else scores

    def model_input(self, images: np.ndarray) -> Any:
        declared = self.options.declared
        if declared is not None:
            return self._preprocess_pixels(self.differentiable_input(images)).detach()
        return self._as_input(self.prepare(images))

    def layer(self, name: Any, image: np.ndarray, reshape: Any = None) -> tuple[Any, str]:
        """The CAM layer: ``name`` (a ``named_modules()`` name or the module itself) or, for ``None``, the
        first norm of the last transformer block to run when one runs after the last ``Conv2d`` (see
        :mod:`xaihub.models.token_grid`), else the last ``Conv2d`` to run. A layer whose output is tokens or
        channels-last (or any layer, with ``reshape=``) comes back as a
        :class:`~xaihub.models.token_grid.TokenGrid` whose output is ``N×C×h×w`` while attached."""
        import torch

        from xaihub.models import token_grid

        modules = dict(self.model.named_modules())
        convolutions = [n for n, m in modules.items() if isinstance(m, torch.nn.Conv2d)]
        if isinstance(name, torch.nn.Module):
            found = [n for n, m in modules.items() if m is name]
            if not found:
                raise InputError(f"layer={type(name).__name__} is not a module of the model")
            name = found[0]
        elif name is not None and (not isinstance(name, str) or not name or name not in modules):
            raise InputError(f"the model has no module named {name!r}; its Conv2d layers are {convolutions}")
        key = (tuple(image.shape), self.input_space)
        if name is None:
            blocks = token_grid.transformer_blocks(self.model)
            if not convolutions and not blocks:
                raise InputError("the model has neither a Conv2d layer nor a transformer block; pass layer=<module name>")
            name, shape = self.cache.get_or_compute("cam-layer", key,
                                                    lambda: self._cam_layer(convolutions, blocks, image))
        elif reshape is None and isinstance(modules[name], torch.nn.Conv2d):
            shape = (0, 0, 0, 0)  # N×C×h×w: no probe needed
        else:
            shape = self.cache.get_or_compute("layer-shape", key + (name,),
                                              lambda: self._output_shape(modules[name], image))
        layout = token_grid.infer_layout(self.model, modules[name], shape, self._input_hw(image), reshape)
        if layout is None:
            return modules[name], name
        return token_grid.token_grid(modules[name], layout, name), name

    def layer_scores(self, inputs: Any, layer: Any) -> tuple[Any, Any]:
        from xaihub.models.token_grid import attached

        seen: list[Any] = []
        handle = layer.register_forward_hook(lambda module, args, output: seen.append(output))
        try:
            with attached(layer):
                scores = self.scores(inputs)
        finally:
            handle.remove()
        if not seen:
            raise InputError("the chosen layer did not run during the forward pass")
        feature = seen[-1]
        if not hasattr(feature, "ndim") or feature.ndim != 4:
            shape = tuple(feature.shape) if hasattr(feature, "shape") else type(feature).__name__
            raise InputError(f"the chosen layer gives {shape}; CAM methods need an N×C×h×w feature map")
        return feature, scores

    def from_channels_last(self, values: np.ndarray) -> Any:
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        return tensor.to(device=self.device, dtype=self.dtype).permute(0, 3, 1, 2).contiguous()

    def channels_last(self, tensor: Any) -> np.ndarray:
        values = tensor.detach()
        if values.ndim == 4:
            values = values.permute(0, 2, 3, 1)
        return values.float().cpu().numpy()

    def scores_module(self) -> Any:
        """An ``nn.Module`` computing :meth:`scores` (for libraries that need a module: captum's
        DeepLift and LRP, shap); its only child is the user's model."""
        from xaihub.models.torch_scores import ScoresModule

        return ScoresModule(self)

    # -- the fast path for perturbation methods ---------------------------------------------------
    @property
    def accepts_device_batches(self) -> bool:
        """Whether :meth:`predict_pixels` can run: the preprocessing is declared (a callable may expect numpy)."""
        return self.options.declared is not None

    def predict_pixels(self, images: Any, autocast: str | None = None) -> Any:
        """Probabilities ``N×K`` (float64, on the device) for ``N×H×W×3`` pixel tensors on the device.

        The fast path for methods that build perturbed images in torch: no host round trip and
        no numpy copies. ``autocast`` is ``None``, ``"bf16"`` or ``"fp16"``.
        """
        import torch

        if not self.accepts_device_batches:
            raise ModelError("predict_pixels needs a declared preprocessing (xaihub.Preprocess); "
                             "this model has a preprocess function")
        if autocast is not None and autocast not in AUTOCAST_DTYPES:
            raise InputError(f"autocast must be None or one of {sorted(AUTOCAST_DTYPES)}, got {autocast!r}")
        device = self.device
        x = images.to(device=device, dtype=self.dtype).permute(0, 3, 1, 2)  # a view: channels-last strides
        context = (torch.autocast(device.type, dtype=getattr(torch, AUTOCAST_DTYPES[autocast]))
                   if autocast else contextlib.nullcontext())
        with torch.no_grad(), self.session(), context:
            out = self._guarded(self.model, self._preprocess_pixels(x))
        self.count_forward(len(images))
        return self._probabilities_tensor(self._checked_scores(self.select_output(out), len(images)).double())

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``height×width`` at which the model sees a ``height×width`` image (the declared resize)."""
        return self.options.declared.input_size(height, width)

    def resize_pixels(self, images: Any) -> Any:
        """``N×H×W×3`` pixel tensors on the device at :meth:`input_size`, as :meth:`predict_pixels` would
        resize them (linear: a sum of images resizes to the sum of their resizings)."""
        return self.options.declared.resize_torch(images.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    def fast_autocast(self, image: np.ndarray, wanted: str | None) -> tuple[str | None, dict[str, Any]]:
        """The autocast :meth:`predict_pixels` should use for perturbations of ``image``, and what decided it.

        ``wanted`` ``None``, ``"bf16"`` or ``"fp16"`` is taken as asked. ``"auto"`` takes bf16 where the
        device runs it natively (a CUDA device with bf16, a CPU with AVX512-BF16 or AMX) and where, on
        ``image`` itself, bf16 keeps fp32's top-5 classes and every probability within
        ``GUARD_TOLERANCE``; else fp32. The check costs two forward passes, once per image and call.
        """
        if wanted != "auto":
            return wanted, {}
        if not self._native_bf16():
            return None, {"autocast_guard": "bf16 is not native on this device"}
        from xaihub.core.cache import array_key

        def guard() -> tuple[str | None, dict[str, Any]]:
            import torch

            pixels = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None].to(self.device)
            exact = self.predict_pixels(pixels)[0].cpu().numpy()
            try:
                fast = self.predict_pixels(pixels, "bf16")[0].cpu().numpy()
            except Exception as exc:  # e.g. a forward through numpy, which has no bfloat16: stay in fp32
                return None, {"autocast_guard": f"bf16 failed ({type(exc).__name__}: {str(exc)[:200]})"}
            same = set(np.argsort(-exact, kind="stable")[:GUARD_TOP]) == set(np.argsort(-fast, kind="stable")[:GUARD_TOP])
            difference = float(np.abs(exact - fast).max())
            verdict = {"top5_kept": same, "max_difference": difference}
            return ("bf16" if same and difference <= GUARD_TOLERANCE else None), {"autocast_guard": verdict}

        return self.cache.get_or_compute("autocast-guard", array_key(image), guard)

    # -- private --------------------------------------------------------------------------------
    def _native_bf16(self) -> bool:
        import torch

        device = self.device
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported())
        if device.type != "cpu":
            return False
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False

    def _forward(self, batch: np.ndarray) -> Any:
        import torch

        if self.options.declared is not None:
            pixels = torch.from_numpy(batch).to(device=self.device, dtype=self.dtype).permute(0, 3, 1, 2)
            return self.model(self._preprocess_pixels(pixels))
        return self.model(self._as_input(self.prepare(batch)))

    def _preprocess_pixels(self, pixels: Any) -> Any:
        return self.options.declared.torch(pixels)

    def _as_input(self, batch: Any) -> Any:
        import torch

        tensor = batch if isinstance(batch, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(batch))
        if self.options.channels_first and tensor.ndim == 4:
            tensor = tensor.permute(0, 3, 1, 2)
        return tensor.to(device=self.device, dtype=self.dtype)

    def _to_numpy(self, scores: Any) -> np.ndarray:
        import torch

        if isinstance(scores, torch.Tensor):
            return scores.detach().cpu().numpy() if scores.is_floating_point() else scores.cpu().numpy()
        return np.asarray(scores)

    def _checked_scores(self, out: Any, n: int, bounded: bool = True) -> Any:
        """Raw score tensor checked like ``predict``'s (shape, finiteness, class count, and the range of
        probabilities unless not ``bounded``: logits read before a final softmax), kept on the device."""
        import torch

        if not isinstance(out, torch.Tensor):
            raise ModelError(f"the model returned {type(out).__name__}, expected a tensor of class scores")
        if not out.is_floating_point():
            raise ModelError(f"the model returned {out.dtype} values (class ids?); xaihub needs N×K class scores")
        if out.ndim == 1 and out.shape[0] == n:
            out = out[:, None]
        values = out.detach()
        finite = bool(torch.isfinite(values).all())
        low, high = (float(values.min()), float(values.max())) if finite and values.numel() and bounded \
            else (0.0, 0.0)
        self._check_scores(tuple(out.shape), n, finite, low, high)
        return out

    def _probabilities_tensor(self, out: Any) -> Any:
        import torch

        if self.output_kind == "logits":
            return torch.softmax(out, dim=1)
        return torch.sigmoid(out) if self.output_kind == "multilabel-logits" else out

    def _input_hw(self, image: np.ndarray) -> tuple[int, int]:
        """The ``H×W`` of the model input for ``image`` (after a declared resize)."""
        return tuple(int(v) for v in self.model_input(image[None]).shape[2:4])

    def _run_recording(self, modules: dict[str, Any], image: np.ndarray) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, output shape)`` of each of ``modules`` in the order they run on ``image``; one forward pass."""
        import torch

        ran: list[tuple[str, tuple[int, ...]]] = []

        def recorder(name: str):
            def hook(module, args, output):
                ran.append((name, tuple(output.shape) if hasattr(output, "shape") else ()))
            return hook

        handles = [module.register_forward_hook(recorder(n)) for n, module in modules.items()]
        try:
            with torch.no_grad(), self.session():
                self.scores(self.differentiable_input(image[None]))
        finally:
            for handle in handles:
                handle.remove()
        return ran

    def _output_shape(self, module: Any, image: np.ndarray) -> tuple[int, ...]:
        ran = self._run_recording({"layer": module}, image)
        if not ran:
            raise InputError("the chosen layer did not run during the forward pass")
        return ran[-1][1]

    def _cam_layer(self, convolutions: list[str], blocks: dict[str, Any],
                   image: np.ndarray) -> tuple[str, tuple[int, ...]]:
        """The first norm to run in the last transformer block to run, if that runs after the last
        ``Conv2d`` with a 4-d output; else that ``Conv2d``; and its output's shape. One forward pass."""
        from xaihub.models.token_grid import is_norm

        modules = dict(self.model.named_modules())
        owner = {f"{b}.{n}" if b else n: b for b, block in blocks.items()
                 for n, child in block.named_children() if is_norm(child)}
        ran = self._run_recording({n: modules[n] for n in [*convolutions, *owner]}, image)
        convs = [i for i, (n, shape) in enumerate(ran) if n not in owner and len(shape) == 4]
        norms = [i for i, (n, _) in enumerate(ran) if n in owner]
        if norms and (not convs or norms[-1] > convs[-1]):
            last_block = owner[ran[norms[-1]][0]]
            return next(ran[i] for i in norms if owner[ran[i][0]] == last_block)
        if not convs:
            raise InputError("no Conv2d layer or transformer block ran on this image; pass layer=<module name>")
        return ran[convs[-1]]


def _first_conv_channels(model: Any) -> int | None:
    """The input channels of the model's first ``Conv2d`` (in the order of ``modules()``), or ``None``."""
    import torch

    modules = model.modules() if isinstance(model, torch.nn.Module) else ()
    return next((int(m.in_channels) for m in modules if isinstance(m, torch.nn.Conv2d)), None)
