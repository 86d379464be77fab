"""Captum's image attribution methods as xaihub methods, for torch models."""
