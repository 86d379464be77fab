"""xaihub's ONNX plugin: models exported to ONNX, run by ONNX Runtime, explained by black-box methods."""
