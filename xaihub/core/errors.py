"""Exceptions raised by xaihub. Every message says what was expected and what arrived."""


class XaihubError(Exception):
    """Base class of every error xaihub raises on purpose."""


class InputError(XaihubError, ValueError):
    """The image, targets or parameters given to xaihub are not usable."""


class ModelError(XaihubError):
    """The model could not be adapted or returned something unusable."""


class UnknownMethodError(XaihubError, KeyError):
    """No registered explainer has the requested name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MethodUnavailableError(XaihubError):
    """The explainer is registered but cannot run here (missing library, wrong model kind)."""


class ValidationError(XaihubError):
    """A plugin returned an explanation that breaks the `Explanation` contract."""
