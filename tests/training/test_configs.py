"""The paper's training configs cannot rot: their recipe, their networks' full-size train
step (traced, not compiled), and two real steps of each on TFDS mock data.

``tfds.testing.mock_data`` works with ``tfds.data_source`` (TFDS 4.9.10): it serves random
records of the dataset's real features (imagenet2012: image, label, file_name; no boxes;
caltech_birds2011: image, label, bbox, segmentation_mask), so the configs' datasets,
splits, augmentations and evaluation paths run without downloading anything.
"""
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from flax import nnx

from camjax import config as config_lib, models, training
from camjax.data import pipeline
from camjax.models.pretrained import ARCHITECTURES, LoadReport
from camjax.checks import values
from camjax.training import optim, state as state_lib, step as step_lib
from tests.conftest import CONFIGS

PAPER = ["ilsvrc_vgg16_gap", "ilsvrc_googlenet_gap", "ilsvrc_googlenet_gmp",
         "ilsvrc_alexnet_gap", "ilsvrc_resnet50_gap", "cub_vgg16_gap", "cub_resnet50_gap"]
CLASSES = {"imagenet2012": 1000, "caltech_birds2011": 200}


def _load(name, **overrides):
    return config_lib.load(CONFIGS / f"{name}.py", overrides)


@pytest.mark.parametrize("name", PAPER)
def test_recipe_is_the_released_solver(name):
    c = _load(name)
    doc = (CONFIGS / f"{name}.py").read_text().split('"""')[1]
    assert f"camjax train --config experiments/configs/{name}.py --workdir" in doc
    assert (c.momentum, c.weight_decay, c.learning_rate, c.batch_size) == (0.9, 5e-4, 1e-3, 64)
    assert (c.lr_schedule, c.lr_gamma, c.new_layer_lr_mult) == ("step", 0.1, 10.0)
    assert c.model == re.sub(r"^(ilsvrc|cub)_", "", name)
    assert c.pooling == ("gmp" if c.model.endswith("gmp") else "gap")
    assert c.pretrained.endswith(".pth") and c.image_size == 224
    if name.startswith("ilsvrc"):
        assert (c.dataset, c.eval_split) == ("imagenet2012", "validation")
        assert (c.num_train_steps, c.lr_step_size) == (160_000, 40_000)
    else:
        assert (c.dataset, c.eval_split) == ("caltech_birds2011", "test")
    assert c.augment in ("resize_crop", "random_resized_crop")
    for devices in (1, 2, 4, 8, 16, 32, 64):
        assert c.batch_size % devices == 0 and c.eval_batch_size % devices == 0


@pytest.mark.parametrize("name", PAPER)
def test_full_size_train_step_traces_and_new_layers_get_the_higher_rate(name):
    """224 px, the dataset's class count: shapes through forward, backward and the
    optimiser (``jax.eval_shape``: nothing is compiled). The layers that get the 10x rate
    are exactly those ``load_pretrained`` leaves new."""
    c = _load(name, pretrained="")
    num_classes = CLASSES[c.dataset]
    model = nnx.eval_shape(lambda: state_lib.build_model(c, num_classes))
    model.train()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx, schedule = optim.make_optimizer(c, params)
    state = step_lib.TrainState(step=jax.ShapeDtypeStruct((), jnp.int32), params=params,
                                rest=rest, opt_state=jax.eval_shape(tx.init, params))
    batch = {"image": jax.ShapeDtypeStruct((2, 224, 224, 3), jnp.float32),
             "label": jax.ShapeDtypeStruct((2,), jnp.int32)}
    new_state, metrics = jax.eval_shape(
        functools.partial(step_lib.train_step, graphdef=graphdef, tx=tx), state, batch)
    assert metrics["loss"].shape == () and new_state.params["head"]["classifier"]["kernel"] \
        .shape[-1] == num_classes
    labels = jax.tree_util.tree_flatten_with_path(optim.param_labels(params))[0]
    new = {str(path[0].key) for path, label in labels if label == "new"}
    backbone = {str(path[0].key) for path, label in labels if label == "backbone"}
    _, _, left_new = ARCHITECTURES[type(model)]
    assert new == set(left_new) & (new | backbone) and backbone and not new & backbone
    step = c.lr_step_size
    assert [float(schedule(s)) for s in (0, step - 1, step, 3 * step)] == \
        pytest.approx([1e-3, 1e-3, 1e-4, 1e-6])


class _ValidBoxes:
    """Mock caltech_birds2011 boxes are random numbers (ymin may exceed ymax): sort them."""

    def __init__(self, src):
        self._src, self.dataset_info = src, src.dataset_info

    def __len__(self):
        return len(self._src)

    def __getitem__(self, i):
        record = dict(self._src[i])
        if "bbox" in record:
            b = np.asarray(record["bbox"], np.float32).reshape(-1, 4)
            record["bbox"] = np.concatenate([np.minimum(b[:, :2], b[:, 2:]),
                                             np.maximum(b[:, :2], b[:, 2:])], 1).reshape(-1)
        return record


# the two cheapest paper networks run for real; for the others the two steps run with
# tiny_gap in their place (compiling GoogLeNet / ResNet-50 takes minutes on 2 CPU cores),
# their full-size step being traced above
REAL_MODEL = {"ilsvrc_alexnet_gap": 64, "cub_vgg16_gap": 32}


@pytest.mark.slow
@pytest.mark.parametrize("name", PAPER)
def test_two_steps_on_mock_data(name, tmp_path, monkeypatch):
    shrink = {"batch_size": 4, "eval_batch_size": 4, "num_train_steps": 2,
              "log_every_steps": 1, "checkpoint_every_steps": 1, "data_threads": 1,
              "eval_every_steps": 0, "data_dir": str(tmp_path / "tfds")}
    if name in REAL_MODEL:
        shrink["image_size"] = REAL_MODEL[name]
        # VGG16's localization evaluation compiles for long; cub_resnet50_gap's run
        # covers the caltech_birds2011 evaluation
        shrink["eval_at_end"] = name != "cub_vgg16_gap"
    else:
        shrink.update(image_size=32, model="tiny_gap", model_kwargs={})
    c = _load(name, **shrink)
    loaded = []

    def fake_load_pretrained(model, path):
        loaded.append((type(model).__name__, path))
        return LoadReport(loaded=["features.0.weight"], new=["head.classifier.kernel"])
    monkeypatch.setattr(models, "load_pretrained", fake_load_pretrained)
    monkeypatch.setattr(values, "check_pretrained", lambda config: None)   # no weights here
    real_source = pipeline.tfds_data_source
    monkeypatch.setattr(pipeline, "tfds_data_source", lambda *a: _ValidBoxes(real_source(*a)))
    with tfds.testing.mock_data(num_examples=8):
        metrics = training.train_and_evaluate(c, tmp_path / "work")
    assert [path for _, path in loaded] == [c.pretrained]     # config.pretrained is loaded
    lines = (tmp_path / "work" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
    if not c.eval_at_end:
        assert metrics == {"step": 2}
    elif c.dataset == "imagenet2012":     # no boxes in TFDS: classification only, said so
        assert metrics["classification"]["num_images"] == 8
        assert metrics["localization"].startswith("skipped")
        assert "Localization skipped" in (tmp_path / "work" / "eval" / "report.md").read_text()
    else:
        assert metrics["cam"]["num_images"] == 8
        assert 0 <= metrics["cam"]["gt_known_acc"] <= 100
