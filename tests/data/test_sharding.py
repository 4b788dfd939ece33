"""The same global batches on 1 and 2 processes, for folder layouts (wsolevaluation,
class folders): the two processes' local batches, put together, are the 1-process batch.

``jax.process_count`` / ``jax.process_index`` are replaced as the pipeline sees them; the
data path (grain, decode, augment) is the real one.
"""
import itertools

import jax
import numpy as np
import pytest

from camjax import config as config_lib
from camjax.data import pipeline, train_stream
from tests.conftest import DEMO
from tests.data.fixtures import make_folders, make_wsol


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard")
    w = make_wsol(root / "wsol")
    return {"wsol": {"dataset": f"wsol:{w['metadata']}", "image_root": str(w["images"])},
            "folder": {"dataset": f"folder:{make_folders(root / 'folders')}",
                       "eval_split": "val"}}


def config(overrides, **more):
    return config_lib.load(DEMO, {"image_size": 32, "batch_size": 8, "eval_batch_size": 4,
                                  "data_threads": 2, "augment": "resize_crop", "seed": 5,
                                  "eval_map_size": 24, **overrides, **more})


def as_process(monkeypatch, index, count):
    monkeypatch.setattr(jax, "process_count", lambda: count)
    monkeypatch.setattr(jax, "process_index", lambda: index)


def train_batches(cfg, tmp_path, n):
    src = pipeline.open_source(cfg, cfg.train_split, tmp_path, join_annotations=False)
    it = train_stream.train_iterator(src, cfg, seed=cfg.seed)
    return list(itertools.islice(it, n))


@pytest.mark.parametrize("kind", ["wsol", "folder"])
def test_training_batches_do_not_depend_on_the_process_count(datasets, kind, tmp_path,
                                                             monkeypatch):
    cfg = config(datasets[kind])
    one = train_batches(cfg, tmp_path, 4)          # 32 images of a 12-image split: 3 epochs
    parts = []
    for p in range(2):
        as_process(monkeypatch, p, 2)
        parts.append(train_batches(cfg, tmp_path, 4))
    for step in range(4):
        for key in ("image", "label"):
            assert parts[0][step][key].shape[0] == 4
            glued = np.concatenate([parts[0][step][key], parts[1][step][key]])
            np.testing.assert_array_equal(glued, one[step][key], err_msg=f"{key} {step}")
    # the stream is shuffled (files are listed class by class) and augmented
    first = np.concatenate([one[0]["label"], one[1]["label"][:4]]).tolist()
    assert first != sorted(first)


def eval_batches(cfg, tmp_path, split):
    src = pipeline.open_source(cfg, split, tmp_path)
    return [batch for _, batch in pipeline.eval_batches(src, cfg, with_boxes=src.has_boxes)]


@pytest.mark.parametrize("kind, split", [("wsol", "test"), ("wsol", "val"),
                                         ("folder", "val")])
def test_eval_batches_do_not_depend_on_the_process_count(datasets, kind, split, tmp_path,
                                                         monkeypatch):
    cfg = config(datasets[kind])
    one = eval_batches(cfg, tmp_path, split)
    parts = []
    for p in range(2):
        as_process(monkeypatch, p, 2)
        parts.append(eval_batches(cfg, tmp_path, split))
    assert len(parts[0]) == len(parts[1]) == len(one)
    keys = set(one[0])
    assert {"image", "label", "valid"} <= keys
    assert ("boxes" in keys) == (split == "test")
    assert ("mask" in keys) == (kind == "wsol" and split == "val")
    for step, batch in enumerate(one):
        # process p holds elements p, p + 2, ...: global row 2 * j + p is its row j
        # (padding rows are zeros on both sides)
        for key in keys:
            glued = np.empty_like(batch[key])
            glued[0::2], glued[1::2] = parts[0][step][key], parts[1][step][key]
            np.testing.assert_array_equal(glued, batch[key], err_msg=f"{key} {step}")
    n = sum(int(b["valid"].sum()) for b in one)
    assert n == len(pipeline.open_source(cfg, split, tmp_path))
    if "mask" in keys:
        assert one[0]["mask"].shape == (4, 24, 24)
    if "boxes" in keys:
        assert one[0]["boxes"].shape == (4, cfg.max_boxes, 4)
