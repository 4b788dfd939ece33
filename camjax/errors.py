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


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (optimal string alignment):
    insertions, deletions, substitutions and swaps of two neighbours cost 1 each."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


def close_matches(word: str, candidates, n: int = 3) -> list[str]:
    """The ``n`` candidates nearest to ``word`` by :func:`edit_distance` (case ignored),
    within about a third of its length (at least 1), nearest first."""
    word = str(word)
    limit = max(1, round(len(word) * 0.34))
    scored = sorted((edit_distance(word.lower(), str(c).lower()), k, str(c))
                    for k, c in enumerate(dict.fromkeys(candidates)))
    return [c for d, _, c in scored if 0 < d <= limit or (d == 0 and c != word)][:n]


def did_you_mean(word: str, candidates, n: int = 3) -> str:
    """``"; did you mean a, b?"`` for the candidates close to ``word``, else ``""``."""
    close = close_matches(word, candidates, n)
    return f"; did you mean {', '.join(close)}?" if close else ""
