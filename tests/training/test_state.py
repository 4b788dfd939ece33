"""The train state and step: the higher rate on new layers, bfloat16 compute, pretrained
weights only on a fresh start. (BatchNorm statistics over the global batch: the 8-device
run of test_parallel.py compares them with the 1-device run's, 1 image per device.)"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from camjax import config as config_lib, models, training
from camjax.models.pretrained import LoadReport
from camjax.checks import values
from camjax.training import mesh as mesh_lib, optim, state as state_lib
from tests.conftest import DEMO
from tests.training.conftest import TINY


def tiny(data_dir="", **overrides):
    """At a constant rate, so that a run resumes with more steps (see test_checkpoints)."""
    return config_lib.load(DEMO, {**TINY, "data_dir": data_dir, "lr_schedule": "constant",
                                  **overrides})


def test_new_layers_move_new_layer_lr_mult_times_faster():
    c = tiny(new_layer_lr_mult=10.0, weight_decay=0.0, momentum=0.0, lr_schedule="constant")
    params = nnx.state(models.create("tiny_gap", num_classes=3, rngs=nnx.Rngs(0)), nnx.Param)
    tx, _ = optim.make_optimizer(c, params)
    ones = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(ones, tx.init(params), params)
    assert np.allclose(updates["backbone"][0]["conv"]["kernel"][...], -c.learning_rate)
    assert np.allclose(updates["cam_conv"]["conv"]["kernel"][...], -10 * c.learning_rate)
    assert np.allclose(updates["head"]["classifier"]["kernel"][...], -10 * c.learning_rate)


def _one_step(c, images, labels):
    mesh = mesh_lib.data_mesh()
    setup = state_lib.initial_state(state_lib.build_model(c, 3), c, mesh)
    step = state_lib.compile_train_step(setup.train_graphdef, setup.tx, mesh, c)
    batch = mesh_lib.global_batch(mesh, {"image": images, "label": labels})
    return step, setup.state, batch


def test_bfloat16_compute_keeps_float32_parameters():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 32, 32, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0], np.int32)
    step16, state16, batch = _one_step(tiny(compute_dtype="bfloat16"), images, labels)
    hlo = step16.lower(state16, batch).as_text()
    assert re.search(r"stablehlo.convolution.*bf16", hlo), "convolutions run in bfloat16"
    new16, m16 = step16(state16, batch)
    step32, state32, batch = _one_step(tiny(), images, labels)
    new32, m32 = step32(state32, batch)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(new16.params))
    assert abs(float(m16["loss"]) - float(m32["loss"])) < 0.05     # bf16 has 8 bits
    assert not re.search(r"stablehlo.convolution.*bf16", step32.lower(state32, batch).as_text())


def test_a_uint8_batch_trains_exactly_as_its_host_normalised_floats():
    """The pipeline sends uint8 and the step normalises on the device: the same step, bit
    for bit, as the float32 batch normalised on the host (what the pipeline sent before)."""
    from camjax.data.transforms import normalize_image
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0], np.int32)
    from tests.methods.conftest import filled_model   # built from numpy: no eager init
    c = tiny()
    model = filled_model("tiny_gap", num_classes=3, widths=(8, 8), strides=(2, 2),
                         cam_channels=8)
    mesh, results = mesh_lib.data_mesh(), []
    setup = state_lib.initial_state(model, c, mesh)
    step = state_lib.compile_train_step(setup.train_graphdef, setup.tx, mesh, c)
    state = setup.state
    for x in (images, normalize_image(images)):
        batch = mesh_lib.global_batch(mesh, {"image": x, "label": labels})
        assert batch["image"].dtype == x.dtype
        results.append(step(jax.tree.map(jnp.copy, state), batch))   # the state is donated
    (new_u8, m_u8), (new_f32, m_f32) = results
    assert float(m_u8["loss"]) == float(m_f32["loss"])
    assert float(m_u8["grad_norm"]) == float(m_f32["grad_norm"])
    for a, b in zip(jax.tree.leaves(new_u8.params), jax.tree.leaves(new_f32.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_pretrained_weights_load_on_a_fresh_start_only(tiny_data_dir, tmp_path, monkeypatch):
    calls = []

    def fake(model, path):
        calls.append(path)
        return LoadReport()
    monkeypatch.setattr(models, "load_pretrained", fake)
    checked = []    # the up-front check of the file (tiny_gap has no torchvision weights)
    monkeypatch.setattr(values, "check_pretrained", lambda c: checked.append(c.pretrained))
    c = tiny(tiny_data_dir, pretrained="weights/x.pth", eval_at_end=False)
    training.train_and_evaluate(c, tmp_path)
    assert calls == checked == ["weights/x.pth"]
    training.train_and_evaluate(tiny(tiny_data_dir, pretrained="weights/x.pth", eval_at_end=False,
                                 num_train_steps=3), tmp_path)
    assert calls == checked == ["weights/x.pth"]   # resumed: the checkpoint holds the weights


def test_compute_dtype_and_schedule_errors_are_config_errors():
    from camjax.config import ConfigError
    with pytest.raises(ConfigError, match="compute_dtype"):
        state_lib.compute_dtype(tiny(compute_dtype="float16"))
    with pytest.raises(ConfigError, match="lr_schedule"):
        optim.learning_rate_schedule(tiny(lr_schedule="linear"))
