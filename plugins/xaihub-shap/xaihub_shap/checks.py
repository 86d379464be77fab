"""Parameter checks shared by the shap methods."""

from __future__ import annotations

from typing import Any

from xaihub import InputError


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise :class:`~xaihub.InputError` unless ``value`` is an int ``>= minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise :class:`~xaihub.InputError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise InputError(f"{name} must be one of {choices}, got {value!r}")
