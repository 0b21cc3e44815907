"""Errors that carry a human message about one input (shown to the user, never a traceback)."""

from __future__ import annotations


class InputError(ValueError):
    """A file, or a set of files, that cannot be analysed as asked; ``str()`` is the message."""

    def __init__(self, message: str, file: str | None = None):
        super().__init__(message)
        self.file = file

    def as_dict(self) -> dict:
        return {"file": self.file, "reason": str(self)}


class ParameterError(ValueError):
    """A parameter value outside its valid range; ``str()`` says which and why."""
