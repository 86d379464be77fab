"""Xplique's attribution methods as xaihub methods."""
