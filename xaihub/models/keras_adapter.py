"""Adapter for Keras 3 models (TensorFlow backend). Imports keras only when such a model arrives."""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub.models.base import ModelAdapter, class_scores


class KerasAdapter(ModelAdapter):
    """Calls a ``keras.Model`` with ``training=False``; inputs stay ``N×H×W×C``."""

    framework = "keras"

    def to_tensor(self, images: np.ndarray) -> Any:
        """Preprocessed model input for ``images`` as a float32 tensor (for gradient plugins)."""
        import tensorflow as tf

        return tf.convert_to_tensor(np.asarray(self.prepare(images), dtype=np.float32))

    def _forward(self, batch: Any) -> np.ndarray:
        import keras

        out = class_scores(self.model(np.asarray(batch, dtype=np.float32), training=False))
        return np.asarray(keras.ops.convert_to_numpy(out))
