"""Quantus metrics as xaihub metrics (``quantus.*``); see the plugin's README."""
