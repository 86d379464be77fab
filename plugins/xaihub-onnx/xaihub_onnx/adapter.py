"""`OnnxAdapter`: an ONNX model run by ONNX Runtime, explained through ``predict`` (black-box)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from xaihub.core.errors import InputError, ModelError
from xaihub.core.preprocess import Preprocess
from xaihub.models import ModelAdapter, ModelOptions
from xaihub_onnx.model_input import model_input
from xaihub_onnx.recognise import is_onnx_model
from xaihub_onnx.sessions import session_for


class OnnxAdapter(ModelAdapter):
    """An ONNX model: a path to a ``.onnx`` file, an ``onnxruntime.InferenceSession`` or an
    ``onnx.ModelProto``. Black-box: every method that needs only predictions explains it; gradient
    methods are refused upfront (they need a torch or Keras model).

    - **Input**: the model's one input, ``N×C×H×W`` or ``N×H×W×C`` as its declared shape says (when the
      shape does not say, ``channels_first`` decides), in the type it declares (float32, float16,
      float64). A declared :class:`xaihub.Preprocess` (the default included) runs in numpy and is
      transposed to the model's layout; a model with a fixed ``H×W`` gets images resized to it when
      the ``Preprocess`` names no size (noted), and a model of other than 3 channels (grey-scale: 1) the
      images' luminance in each channel (``Preprocess(channels=None)`` takes the count from the input
      shape). A preprocess function's result is fed as it is, transposed from ``N×h×w×C`` for a
      channels-first model unless ``channels_first=False``.
    - **Output**: ``output_index`` (a position or an output's name) picks it; default the first.
    - **Batches**: a model exported with a fixed batch size gets runs of exactly that size (the
      last one padded with copies of its last image); any other gets whole batches.
    - **Device**: ``None`` or ``"cpu"``: ``CPUExecutionProvider``; ``"cuda"``/``"cuda:N"``:
      ``CUDAExecutionProvider`` (onnxruntime-gpu). A session the user made keeps its providers.
    """

    framework = "onnx"

    def __init__(self, model: Any, options: ModelOptions | None = None) -> None:
        super().__init__(model, options)
        if not is_onnx_model(model):
            raise ModelError(f"OnnxAdapter takes a .onnx path, an onnxruntime.InferenceSession or an "
                             f"onnx.ModelProto, got {type(model).__module__}.{type(model).__qualname__}")
        self.inference_session = session_for(model, self.options.device)
        """The ``onnxruntime.InferenceSession`` that runs the model."""
        self._input = model_input(self.inference_session)
        detected = self._input.channels_first
        self._channels_first = self.options.channels_first if detected is None else detected
        self._declared = self._declared_preprocess()
        self._output = self._output_name()

    def _forward(self, batch: np.ndarray) -> Any:
        x = self._model_input(batch)
        fixed = self._input.batch
        if fixed is None:
            return self._run(x)
        parts = []
        for start in range(0, len(x), fixed):
            chunk = x[start : start + fixed]
            count = len(chunk)
            if count < fixed:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - count, axis=0)])
            out = np.asarray(self._run(chunk))
            if out.ndim == 0 or out.shape[0] != fixed:
                raise ModelError(f"the ONNX model's output {self._output!r} has shape {out.shape} for a batch of "
                                 f"{fixed}; xaihub needs one row of class scores per image")
            parts.append(out[:count])
        return np.concatenate(parts)

    def _run(self, x: np.ndarray) -> Any:
        return self.inference_session.run([self._output], {self._input.name: x})[0]

    def _model_input(self, batch: np.ndarray) -> np.ndarray:
        if self._declared is not None:
            x = self._declared.numpy(batch)
            if self._channels_first:
                x = x.transpose(0, 3, 1, 2)
        else:
            x = np.asarray(self.prepare(batch))
            if x.ndim == 4 and self._channels_first and self.options.channels_first:
                x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=self._input.dtype)

    def _declared_preprocess(self) -> Preprocess | None:
        """The declared preprocessing, sized to the model's fixed input; checks that it can feed the model."""
        declared = self.options.declared
        if declared is None:
            return None
        spec = self._input
        if len(spec.shape) != 4:
            raise ModelError(f"the ONNX model's input {spec.name!r} has shape {list(spec.shape)}; xaihub feeds "
                             "image batches N×C×H×W or N×H×W×C (a preprocess function may make another input)")
        if not spec.floating:
            raise ModelError(f"the ONNX model takes {np.dtype(spec.dtype)} input, but an xaihub.Preprocess makes "
                             "float pixels: pass a preprocess function that returns the model's input")
        fitted = declared.for_model(spec.channels(self._channels_first),
                                    f"the ONNX model's input {spec.name!r} of shape {list(spec.shape)}")
        if fitted is not declared:
            declared = fitted
            self.options = dataclasses.replace(self.options, preprocess=fitted)
        if self._input.channels_first is None:
            layout = "N×C×H×W" if self._channels_first else "N×H×W×C"
            self._note(f"the ONNX model's input shape {list(spec.shape)} does not say where the channels are; "
                       f"it is fed {layout} (channels_first={self._channels_first})")
        fixed = spec.size(self._channels_first)
        if fixed is None or declared.size == fixed:
            return declared
        if declared.size is not None:
            raise InputError(f"the Preprocess resizes images to {declared.size[0]}×{declared.size[1]}, but the "
                             f"ONNX model takes {fixed[0]}×{fixed[1]} inputs")
        self._note(f"the ONNX model takes {fixed[0]}×{fixed[1]} inputs; images of another size are resized "
                   "to it")
        return declared.resized(fixed)

    def _output_name(self) -> str:
        """The output that holds the class scores (``output_index``: a position or a name)."""
        names = [output.name for output in self.inference_session.get_outputs()]
        index = self.options.output_index
        if isinstance(index, str):
            if index not in names:
                raise InputError(f"output_index={index!r}, but the ONNX model's outputs are {names}")
            return index
        if index is None:
            if len(names) > 1:
                self._note(f"the ONNX model has {len(names)} outputs {names}; explaining the first, "
                           f"{names[0]!r} (pass output_index= to choose another)")
            return names[0]
        if not -len(names) <= index < len(names):
            raise InputError(f"output_index={index}, but the ONNX model has {len(names)} outputs {names}")
        return names[index]
