"""The errors a user can cause and fix (the bottom layer: every module may raise them).

Each is a ``ValueError`` whose message names the input (a file and line, a config key,
an image) and what to do; the command line prints it as one line and exits with 2.
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
