"""What OmniXAI needs from xaihub's adapter: its image type, a preprocess, a target layer."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from xaihub import InputError
from xaihub.models import ModelAdapter


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what OmniXAI, TensorFlow and shap print or warn while importing and explaining."""
    loggers = [logging.getLogger(name) for name in ("omnixai", "tensorflow", "shap", "absl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def omnixai_images(image: np.ndarray, copies: int) -> Any:
    """``copies`` of ``image`` as one batched OmniXAI ``Image`` (one copy per target)."""
    from omnixai.data.image import Image

    return Image(np.repeat(image[None], copies, axis=0), batched=True, channel_last=True)


def omnixai_preprocess(model: ModelAdapter) -> Callable[[Any], Any]:
    """OmniXAI's ``preprocess_function``: OmniXAI ``Image`` → the model's input.

    Keras models get numpy, never a tensor: OmniXAI's TF Grad-CAM calls ``.detach()`` on
    anything that is not an ndarray (“EagerTensor has no attribute detach”). Torch
    models get a tensor on the model's device, which OmniXAI's SHAP wrapper needs.
    """

    def preprocess(images: Any) -> Any:
        tensor = model.to_tensor(images.to_numpy(keepdim=True).astype(np.float32))
        return tensor.detach() if model.framework == "torch" else np.asarray(tensor, dtype=np.float32)

    return preprocess


def target_layer(framework_model: Any, framework: str, layer: str | None) -> tuple[Any, str]:
    """The layer object OmniXAI's CAM methods want, and its name.

    ``layer`` is a torch module name (``named_modules()``) or a Keras layer name; ``None``
    picks the last ``Conv2d`` registered (torch) or the last Conv2D layer (Keras).
    """
    if framework == "torch":
        import torch

        modules = dict(framework_model.named_modules())
        convolutions = [name for name, m in modules.items() if isinstance(m, torch.nn.Conv2d)]
        name = layer if layer is not None else (convolutions[-1] if convolutions else None)
        if name is None:
            raise InputError("the model has no Conv2d layer; pass layer=<module name>")
        if not name or name not in modules:
            raise InputError(f"the model has no module named {name!r}; its Conv2d layers are {convolutions}")
        return modules[name], name
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D)
    convolutions = [candidate.name for candidate in framework_model.layers if isinstance(candidate, kinds)]
    name = layer if layer is not None else (convolutions[-1] if convolutions else None)
    if name is None:
        raise InputError("the model has no Conv2D layer; pass layer=<layer name>")
    try:
        return framework_model.get_layer(name), name
    except ValueError:
        raise InputError(f"the model has no layer named {name!r}; its conv layers are {convolutions}") from None
