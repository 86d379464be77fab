"""xaihub's own gradient methods, for torch and Keras (TensorFlow) models."""
