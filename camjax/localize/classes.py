"""``--class``: the classes ``camjax localize`` maps in every image instead of its top-k.

A value is a class index or a class name as the model's class list spells it (ImageNet's
``camjax.data.imagenet_classes()`` for ``--model``, the run's ``class_names.json`` for
``--workdir``); a value may hold several, comma-separated, and the option may be given
again. A value that spells a class name exactly is that class (a folder dataset may name
its classes ``0``, ``1``, ``10``, ... and sort them as text, so a name wins over an
index); otherwise a whole number is an index, and a name matched ignoring case is taken
when it picks one class. The classes keep the order given (repeats dropped).
"""
from __future__ import annotations

from numbers import Integral

from camjax.errors import UserError, did_you_mean


def _pieces(value) -> list:
    """The values of one ``--class`` argument: an int, or a string split on commas unless
    it is exactly one name (checked by the caller)."""
    if isinstance(value, bool) or not isinstance(value, (Integral, str)):
        raise UserError(f"--class {value!r}: expected a class index or name")
    if isinstance(value, Integral):
        return [int(value)]
    return [piece.strip() for piece in value.split(",")]


def _one(value, names: list[str], where: str) -> int:
    """The class index ``value`` (an int, or a string: a name or a whole number) stands for."""
    count = len(names)
    if isinstance(value, str):
        exact = [i for i, n in enumerate(names) if n == value]
        if len(exact) > 1:
            raise UserError(f"--class {value!r} names the classes "
                            f"{', '.join(map(str, exact))} of {where}: give the index")
        if exact:
            return exact[0]
        if not value:
            raise UserError("--class: an empty class (expected an index or a class name)")
        text = value[1:] if value[:1] in "+-" else value
        if not (text.isascii() and text.isdigit()):
            folded = [i for i, n in enumerate(names) if n.casefold() == value.casefold()]
            if len(folded) == 1:
                return folded[0]
            raise UserError(f"--class {value!r}: no class of that name among the {count} "
                            f"classes of {where}{did_you_mean(value, names)}")
        value = int(value)
    if not 0 <= value < count:
        raise UserError(f"--class {value}: no such class index; the model has {count} "
                        f"classes, 0 to {count - 1} ({where})")
    return value


def resolve(values, names: list[str], where: str = "the model") -> list[int]:
    """The class indices of ``values`` (one value or a list of them: ints, names, indices
    as text, comma-separated lists) over the class list ``names``; ``where`` names that
    list in errors (``"ImageNet (camjax.data.imagenet_classes())"``, a class_names.json).
    Raises :class:`UserError` naming the value for an unknown name or index."""
    values = [values] if isinstance(values, (Integral, str)) else list(values)
    if not values:
        raise UserError("--class: no class given")
    chosen: list[int] = []
    for value in values:
        pieces = [value] if isinstance(value, str) and value in names else _pieces(value)
        for piece in pieces:
            index = _one(piece, names, where)
            if index not in chosen:
                chosen.append(index)
    return chosen
