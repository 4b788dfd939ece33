"""docs/models.md documents every registered network: a table row that names its
``features_layer`` (the CAM family's default layer) and its mapping resolution. Nothing is
built: the names come from the registry, the layer from the class where it is a class
attribute (or the class a factory function returns; ViT and DeiT set theirs from their
depth: checked against the docs' pattern)."""
from __future__ import annotations

import re
import typing

import pytest

from camjax import models
from camjax.models import registry
from tests.conftest import ROOT

DOC = ROOT / "docs" / "models.md"


def table_rows() -> dict[str, list[dict]]:
    """name -> the rows naming it first, each {column header: cell}."""
    rows, header = {}, None
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if set(line) <= set("|-: "):
            continue
        if header is None:
            header = cells
            continue
        name = re.fullmatch(r"`([a-z0-9_]+)`", cells[0])
        if name and len(cells) == len(header):
            rows.setdefault(name.group(1), []).append(dict(zip(header, cells)))
    return rows


def column(row: dict, word: str) -> str | None:
    return next((cell for head, cell in row.items() if word in head), None)


def declared_layer(name: str) -> str | None:
    """``features_layer`` as the registered class declares it, without building."""
    build = registry.factory(name)
    cls = getattr(build, "func", build)          # a class, a partial of one, or a factory
    if not isinstance(cls, type):                # function annotated with what it returns
        cls = typing.get_type_hints(cls).get("return")
    value = cls.__dict__.get("features_layer") or next(
        (c.__dict__["features_layer"] for c in getattr(cls, "__mro__", ())
         if isinstance(c.__dict__.get("features_layer"), str)), None)
    return value if isinstance(value, str) else None


ROWS = table_rows()


@pytest.mark.parametrize("name", models.available())
def test_every_network_has_a_row_with_its_features_layer_and_resolution(name):
    documented = [r for r in ROWS.get(name, [])
                  if column(r, "features") and column(r, "mapping resolution")]
    assert documented, f"docs/models.md has no row for {name} with its features layer " \
                       "and mapping resolution"
    row = documented[0]
    features, resolution = column(row, "features"), column(row, "mapping resolution")
    assert re.search(r"\b\d+x\d+\b", resolution), (name, resolution)
    layer = declared_layer(name)
    if layer is not None:
        assert re.search(rf"(?<![\w.]){re.escape(layer)}(?![\w])", features), (name, layer,
                                                                             features)
    else:       # set from the depth in __init__: the last block's first LayerNorm
        assert re.search(r"encoder\.layers\.encoder_layer_\d+\.ln_1|blocks\.\d+\.norm1",
                         features), (name, features)


def test_the_instance_set_layers_are_the_transformers():
    assert sorted(n for n in models.available() if declared_layer(n) is None) == sorted(
        ["vit_b_16", "vit_b_32", "vit_l_16", "deit_small_patch16_224", "deit_base_patch16_224"])
