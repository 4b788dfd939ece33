"""Abstract networks (shapes only) for the model tests: ``camjax.models.create_abstract``
with the tests' defaults."""
from __future__ import annotations

import camjax


def abstract(name: str, pooling: str = "gap", num_classes: int = 1000, **kwargs):
    """``camjax.models.create(name, ...)`` with ShapeDtypeStruct leaves: nothing is
    initialised or compiled."""
    return camjax.models.create_abstract(name, num_classes=num_classes, pooling=pooling,
                                         **kwargs)
