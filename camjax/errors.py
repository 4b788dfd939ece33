"""The errors a user can cause and fix (the bottom layer: every module may raise them).

Each ``UserError`` is a ``ValueError`` whose message names the input (a file and line, a
config key, an image) and what to do; the command line prints it as one line and exits
with 2. A ``RunError`` is a run that started and failed on the way (a non-finite loss, a
checkpoint that could not be written): one line too, exit status 1. docs/errors.md lists
what is checked and when.
"""
from __future__ import annotations


class UserError(ValueError):
    """A bad input the user can fix; ``str(err)`` names the input."""


class ConfigError(UserError):
    """A config file, key or value the user can fix."""


class ImageError(UserError):
    """An image (or mask) file that is missing, too large or does not decode:
    ``str(err)`` is ``"path: what is wrong"``."""

    def __init__(self, path, message: str):
        self.path, self.message = str(path), message
        super().__init__(f"{self.path}: {message}")


class ModelError(UserError):
    """An unknown network or pooling, constructor arguments or a weights file that do not
    fit the network."""


class RunError(RuntimeError):
    """A run that started and failed on the way; ``str(err)`` names the step and what to do."""
