"""Reference maps for xaihub: what a metric gives a map that knows nothing about the model."""
