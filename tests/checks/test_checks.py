"""The checks before any work (camjax.checks: values, model, folders, resume, stages) and
the named checkpoint save failures (checks.saves), in process; tests/test_cli_errors.py
runs them through the command line."""
import errno
import re
import shutil
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np
import pytest
from safetensors.numpy import save_file

from camjax import config as config_lib
from camjax.errors import ConfigError, RunError
from camjax.checks import folders, model as probe, resume, saves as save_errors, values
from tests.conftest import DEMO, ROOT
from tests.models.test_pretrained import alexnet_state_dict
from tests.training.conftest import TINY, cli_env


def tiny(**overrides):
    return config_lib.load(DEMO, {**TINY, **overrides})


@pytest.mark.parametrize("key, value, must", [
    ("keep_checkpoints", 0, r">= 1 \(0 would delete every checkpoint\)"),
    ("batch_size", 0, ">= 1"),
    ("learning_rate", 0.0, "> 0"), ("learning_rate", float("inf"), "> 0"),
    ("momentum", 1.0, r"in \[0, 1\)"), ("cam_threshold", -0.1, r"in \[0, 1\]"),
    ("cam_curve_interval", 0.0, r"in \(0, 1\]"), ("data_threads", 0, ">= 1"),
    ("eval_every_steps", -1, ">= 0"), ("weight_decay", -1e-4, ">= 0"),
])
def test_values_out_of_range_name_the_key_and_the_value(key, value, must):
    with pytest.raises(ConfigError, match=rf"config\.{key}={value!r} must be {must}"):
        values.check_values(tiny(**{key: value}))


@pytest.mark.parametrize("key, value, error", [
    ("cam_method", "cam,gradcam", r"config\.cam_method='cam,gradcam' \('gradcam'\) is not one "
                                  r"of: (\w+, )*cam, (\w+, )*grad_cam, .*did you mean grad_cam\?"),
    ("metrics", "wsol,roads", r"config\.metrics='wsol,roads' \('roads'\) is not one of: "
                              r"wsol, faithfulness, road, pointing, complexity, sanity"),
    ("road_percentiles", (10, 120), r"config\.road_percentiles=\(10, 120\) must be a tuple"),
    ("sanity_threshold", 2.0, r"config\.sanity_threshold=2\.0 must be in \[-1, 1\]"),
    ("cam_method", "cam,saliency", None),       # with eigen_smooth: no method takes it
])
def test_the_metrics_keys_name_the_bad_value(key, value, error):
    if error is None:
        values.check_config(tiny(**{key: value}))           # valid without eigen_smooth
        values.check_config(tiny(**{key: "cam,grad_cam"}, eigen_smooth=True))
        error = (r"config\.eigen_smooth: config\.cam_method='cam,saliency' has no weighted "
                 r"channels .*grad_cam")
        value = {key: value, "eigen_smooth": True}
    else:
        value = {key: value}
    with pytest.raises(ConfigError, match=error):
        values.check_config(tiny(**value))
    values.check_choices(tiny(cam_method="cam, grad_cam", metrics="road,sanity"))


def test_the_defaults_and_the_demo_pass():
    values.check_config(config_lib.load("default"))
    values.check_config(tiny())


@pytest.mark.parametrize("model, size, hw", [
    ("tiny_gap", 32, 4),        # three stride-2 convs: 32 / 8
    ("vgg16_gap", 64, 4),       # pool1..pool4: 64 / 16 (the CAM conv replaces pool5)
    ("alexnet_gap", 67, 3),     # conv1 11x11 stride 4 (15), pool (7), pool (3)
])
def test_the_probe_finds_the_feature_map_of_each_network(model, size, hw):
    assert probe.feature_shape(model, "gap", {}, size) == (hw, hw)


def test_an_image_size_below_the_stride_is_refused_before_any_work():
    with pytest.raises(ConfigError, match=r"config\.image_size=8 is too small for vgg16_gap.*"
                                          r"at 224 px its feature map is 14x14 \(stride 16\)"):
        values.check_config(tiny(model="vgg16_gap", image_size=8))


def test_cam_layer_names_a_module_of_the_network_for_a_method_that_takes_one():
    probe.check_model(tiny(cam_method="grad_cam", cam_layer="backbone.2"))   # shapes only
    with pytest.raises(ConfigError, match=r"config.cam_layer: layer 'backbone.9' is not a "
                                          r"module.*nearby names: backbone"):
        probe.check_model(tiny(cam_method="grad_cam", cam_layer="backbone.9"))
    with pytest.raises(ConfigError, match=r"cam_method='cam' takes no layer.*grad_cam"):
        probe.check_model(tiny(cam_layer="backbone.2"))


def test_model_kwargs_are_checked_against_the_constructor():
    with pytest.raises(ConfigError, match=r"config\.model_kwargs\.width is not an argument of "
                                          r"tiny_gap; it takes: widths, strides, kernels, "
                                          r"cam_channels"):
        values.check_config(tiny(**{"model_kwargs.width": 8}))
    with pytest.raises(ConfigError, match=r"model_kwargs\.pooling is set by camjax"):
        values.check_config(tiny(**{"model_kwargs.pooling": "gmp"}))
    values.check_config(tiny(**{"model_kwargs.cam_channels": 16}))


def test_pretrained_is_fitted_to_the_network_from_the_header(tmp_path):
    state = alexnet_state_dict()
    save_file(state, str(tmp_path / "ok.safetensors"))
    values.check_config(tiny(model="alexnet_gap", image_size=67,
                               pretrained=str(tmp_path / "ok.safetensors")))
    state["features.3.weight"] = np.zeros((192, 64, 3, 3), np.float32)    # torchvision: 5x5
    save_file(state, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ConfigError, match=r"config\.pretrained='.*bad\.safetensors': "
                                          r"'features\.3\.weight': shape \(192, 64, 3, 3\)"):
        values.check_config(tiny(model="alexnet_gap", image_size=67,
                                   pretrained=str(tmp_path / "bad.safetensors")))
    # resuming: the checkpoint holds the weights, the file is not needed
    values.check_config(tiny(model="alexnet_gap", image_size=67,
                               pretrained=str(tmp_path / "gone.safetensors")), pretrained=False)


def test_global_batches_must_divide_by_the_device_count(monkeypatch):
    import jax

    from camjax.checks import stages
    monkeypatch.setattr(jax, "device_count", lambda: 8)
    with pytest.raises(ConfigError, match=r"batch_size=12 must be divisible .* \(8\)"):
        stages.check_devices(tiny(batch_size=12, eval_batch_size=16))
    with pytest.raises(ConfigError, match=r"eval_batch_size=12 must be divisible .* \(8\)"):
        stages.check_devices(tiny(batch_size=16, eval_batch_size=12))


def test_a_folder_that_refuses_a_file_is_not_writable(tmp_path, monkeypatch):
    def read_only(**kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(folders.WorkdirError, match=rf"--workdir {tmp_path} is not writable "
                                                    r"\(Read-only file system\)"):
        folders.writable_folder(tmp_path)


def test_a_different_seed_is_refused_and_a_checkpoint_without_one_accepted():
    with pytest.raises(resume.CheckpointError, match="written with seed=0, this config has "
                                                         "seed=1"):
        resume.check_meta({"seed": 0, "model": "tiny_gap"}, {"seed": 1, "model": "tiny_gap"},
                              "W/checkpoints/2")
    resume.check_meta({"model": "tiny_gap"}, {"seed": 1, "model": "tiny_gap"}, "W")


def test_the_optimizer_and_the_step_boundaries_are_part_of_a_checkpoint_s_meaning():
    import json
    step = tiny(optimizer="adamw", lr_schedule="step", lr_boundaries=(30, 60))
    stored = json.loads(json.dumps(resume.run_meta(step, 3)))   # as the checkpoint holds it
    resume.check_meta(stored, resume.run_meta(step, 3), "W")      # (30, 60) == [30, 60]
    for change, words in [({"lr_boundaries": (30, 90)}, "lr_boundaries=[30, 60], this "
                                                        "config has lr_boundaries=[30, 90]"),
                          ({"optimizer": "sgd"}, "optimizer='adamw', this config has "
                                                 "optimizer='sgd'")]:
        with pytest.raises(resume.CheckpointError, match=re.escape(words)):
            resume.check_meta(stored, resume.run_meta(tiny(
                **{**dict(optimizer="adamw", lr_schedule="step", lr_boundaries=(30, 60)),
                   **change}), 3), "W")
    # boundaries mean nothing to a cosine schedule; a checkpoint from before the keys
    cosine = json.loads(json.dumps(resume.run_meta(tiny(lr_boundaries=(5,)), 3)))
    resume.check_meta(cosine, resume.run_meta(tiny(), 3), "W")
    older = {k: v for k, v in stored.items() if k not in ("optimizer", "lr_boundaries")}
    resume.check_meta(older, resume.run_meta(tiny(lr_schedule="step"), 3), "W")


class FakeManager:
    """The two calls save_errors makes on an orbax CheckpointManager."""

    def __init__(self, directory, error=None):
        self.directory, self.error = directory, error

    def check_for_errors(self):
        if self.error:
            error, self.error = self.error, None     # orbax raises a background error once
            raise error

    def wait_until_finished(self):
        pass

    def close(self):
        pass


def test_no_room_on_the_disk_stops_before_orbax_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=3 * 2**20))
    state = {"w": np.zeros(2**20, np.float32)}        # 4 MiB
    with pytest.raises(save_errors.CheckpointSaveError,
                       match=rf"step 7 in {tmp_path} \(3.0 MiB free on its disk, the state "
                             r"needs 5.4 MiB\)"):
        save_errors.check_space(FakeManager(tmp_path), 7, state)
    save_errors.check_space(FakeManager(tmp_path), 7, {"w": np.zeros(2**18, np.float32)})


def test_a_background_failure_names_the_step_that_was_being_saved(tmp_path):
    mngr = FakeManager(tmp_path)
    with save_errors.saving(mngr, 40):
        pass
    mngr.error = ValueError("RESOURCE_EXHAUSTED: Error writing 'params'")
    with pytest.raises(RunError, match=rf"could not save the checkpoint of step 40 in {tmp_path} "
                                       r"\(ValueError: RESOURCE_EXHAUSTED"):
        save_errors.check_saves(mngr)
    with pytest.raises(save_errors.CheckpointSaveError, match="step 41.*No space"):
        with save_errors.saving(mngr, 41):
            raise OSError(errno.ENOSPC, "No space left on device")


def test_close_drops_a_save_error_while_another_error_propagates(tmp_path):
    save_errors.close(FakeManager(tmp_path, OSError("disk")), raise_errors=False)
    with pytest.raises(save_errors.CheckpointSaveError):
        save_errors.close(FakeManager(tmp_path, OSError("disk")))


def test_the_early_checks_leave_jax_uninitialised(tiny_data_dir, tmp_path):
    """The command line checks before jax.distributed starts: nothing may compute."""
    code = "\n".join([
        "import sys",
        "from jax._src import xla_bridge",
        "from camjax import config",
        "from camjax import checks",
        f"c = config.load({str(DEMO)!r}, {{'dataset': 'camjax_shapes/tiny', "
        f"'data_dir': {tiny_data_dir!r}, 'model': 'vgg16_gap', 'image_size': 64}})",
        f"checks.early(c, 'train', {str(tmp_path / 'w')!r})",
        "print('clean' if not xla_bridge.backends_are_initialized() else 'initialised')"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=cli_env(), cwd=ROOT, timeout=300)
    assert out.stdout.strip().endswith("clean"), out.stdout + out.stderr[-2000:]
    assert not (tmp_path / "w").exists()          # checked, not created
