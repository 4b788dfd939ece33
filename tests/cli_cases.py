"""The table of tests/test_cli_errors.py: bad invocations of the ``camjax`` command, each
with the words its one-line error must contain, the folders it must not leave behind,
and the helpers that set their folders up."""
from __future__ import annotations

import json

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from tests.conftest import CONFIGS, DEMO, TINY_OVERRIDES

CONFIG_FILES = {
    "syntax.py": "def get_config(:\n",
    "raises.py": "def get_config():\n    raise RuntimeError('boom in get_config')\n",
    "returns_list.py": "def get_config():\n    return [1, 2]\n",
    "no_function.py": "x = 1\n",
    "dict_unknown.py": "def get_config():\n    return {'batch_sise': 3}\n",
}


@dataclass
class Context:
    data_dir: str
    root: Path                  # files and workdirs of this module
    trained_dir: Path           # the shared finished run (tests/conftest.py): never changed
    wsol: dict = field(default_factory=dict)   # tests/data/fixtures.make_wsol's paths

    def file(self, name: str) -> str:
        return str(self.root / "files" / name)

    def trained(self) -> Path:
        """The workdir of a finished 2-step run (checkpoints 1 and 2, seed 0)."""
        return self.trained_dir


@dataclass
class Case:
    id: str
    argv: Callable[[Context, Path], list[str]]   # (context, this case's workdir) -> argv
    names: tuple[str, ...]                       # what the message must name
    status: int = 2
    up_front: bool = True       # detectable before any work: one line, nothing written
    patch: Callable | None = None                # (monkeypatch) -> None, before the run
    setup: Callable[[Context, Path], Path] | None = None   # -> the workdir to use
    # folders that must not exist afterwards (default: the workdir when no setup made it)
    absent: Callable[[Context, Path], list[Path]] | None = None
    # what must hold afterwards, given the workdir (the runs that fail on the way)
    kept: Callable[[Path], None] | None = None


class F(str):
    """A config value naming a file of this module's files folder (made by write_files)."""


def tiny_args(data_dir, **overrides) -> list[str]:
    values = {**TINY_OVERRIDES, "data_dir": data_dir, **overrides}
    return [f"--config.{k}={v}" for k, v in values.items()]


def train(**overrides):
    def argv(ctx, wd):
        values = {k: ctx.file(v) if isinstance(v, F) else v for k, v in overrides.items()}
        return ["train", "--config", str(DEMO), "--workdir", str(wd),
                *tiny_args(ctx.data_dir, **values)]
    return argv


def trained(ctx, wd):
    return ctx.trained()


def vgg(**overrides):
    return train(model="vgg16_gap", **overrides)


def a_file(ctx, wd):
    wd.parent.mkdir(parents=True, exist_ok=True)
    wd.write_text("not a folder")
    return wd


def read_only_folder(ctx, wd):
    wd.mkdir(parents=True)
    return wd if make_read_only(wd) else None


def read_only_copy_of_trained(ctx, wd):
    shutil.copytree(ctx.trained(), wd)
    return wd if make_read_only(wd) else None


def without_checkpoints(ctx, wd):
    """A workdir with the run's config.json and class names but no checkpoint."""
    wd.mkdir(parents=True)
    for name in ("config.json", "class_names.json"):
        shutil.copy(ctx.trained() / name, wd / name)
    return wd


def empty_class_folders(ctx, wd):
    """folder:DIR whose class folders hold no image (wd stays unmade)."""
    for split in ("train", "test"):
        (wd.parent / "data" / split / "cat").mkdir(parents=True)
    (wd.parent / "data" / "train" / "cat" / "notes.txt").write_text("no image here")
    return wd


def bad_image_folder(ctx, wd):
    """Two class folders of 4 images each, one of them truncated: the one the training
    stream (shuffled with seed 0, batches of 4) reads for step 2 (wd stays unmade)."""
    import grain

    from camjax.data.folders import ImageFolderSource
    from tests.data.fixtures import make_folders
    data = make_folders(wd.parent / "data", classes=("cat", "dog"),
                        per_split=(("train", 4), ("test", 2)))
    files = ImageFolderSource(data, "train").files
    order = list(grain.MapDataset.range(len(files)).shuffle(seed=0))
    bad = files[order[5]]                       # the second image of step 2
    bad.write_bytes(bad.read_bytes()[:60])
    return wd


def full_disk(monkeypatch):
    """The second checkpoint save fails as a full disk does."""
    import orbax.checkpoint as ocp
    save = ocp.CheckpointManager.save

    def full(self, step, *a, **k):
        if step == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(self, step, *a, **k)
    monkeypatch.setattr(ocp.CheckpointManager, "save", full)


def no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)


def devices(n):
    def patch(monkeypatch):
        import jax
        monkeypatch.setattr(jax, "device_count", lambda: n)
    return patch


def localize(*args, workdir=None):
    """``camjax localize ... --out WD`` on the files folder's photos: WD must stay unmade."""
    def argv(ctx, wd):
        which = ["--workdir", str(workdir(ctx, wd) if callable(workdir) else ctx.trained())] \
            if workdir is not False else []
        return ["localize", *which, *[ctx.file(a) if isinstance(a, F) else a for a in args],
                ctx.file("photos"), "--out", str(wd), "--no_progress"]
    return argv


def wsol_cub(ctx, wd):
    """wsol_cub_resnet50_gap.py on the fixture's wsolevaluation folders (no weights)."""
    return ["train", "--config", str(CONFIGS / "wsol_cub_resnet50_gap.py"), "--workdir",
            str(wd), f"--config.dataset=wsol:{ctx.wsol['metadata']}",
            f"--config.image_root={ctx.wsol['images']}"]


def parent_data(ctx, wd):
    return str(wd.parent / "data")


def _out(ctx, wd):
    return [wd]


CASES = [
    # the command line and the config file
    Case("config_missing", lambda c, w: ["train", "--config", c.file("nope.py"), "--workdir",
                                         str(w)], ("config file not found", "nope.py")),
    Case("config_packaged_typo", lambda c, w: ["train", "--config", "dmeo", "--workdir", str(w)],
         ("config file not found: dmeo", "did you mean demo")),
    Case("config_syntax", lambda c, w: ["train", "--config", c.file("syntax.py"), "--workdir",
                                        str(w)], ("syntax.py failed to load", "SyntaxError")),
    Case("config_raises", lambda c, w: ["train", "--config", c.file("raises.py"), "--workdir",
                                        str(w)], ("raises.py", "boom in get_config")),
    Case("config_returns_list", lambda c, w: ["train", "--config", c.file("returns_list.py"),
                                              "--workdir", str(w)],
         ("returns_list.py returned list",)),
    Case("config_no_function", lambda c, w: ["train", "--config", c.file("no_function.py"),
                                             "--workdir", str(w)], ("has no get_config()",)),
    Case("config_dict_unknown_key", lambda c, w: ["train", "--config", c.file("dict_unknown.py"),
                                                  "--workdir", str(w)],
         ("unknown config key 'batch_sise'", "dict_unknown.py", "did you mean batch_size?")),
    Case("key_unknown", train(batch_sise=4), ("unknown config key 'batch_sise'",
                                              "--config.batch_sise=4", "did you mean batch_size")),
    Case("key_typo_cam_metod", train(cam_metod="grad_cam"),
         ("unknown config key 'cam_metod'", "did you mean cam_method?")),
    Case("key_typo_lerning_rate", train(lerning_rate=0.1),
         ("unknown config key 'lerning_rate'", "did you mean learning_rate?")),
    Case("key_wrong_type", train(batch_size="big"), ("'batch_size' expects int", "'big'")),
    Case("key_without_value", lambda c, w: train()(c, w) + ["--config.top_k"],
         ("--config.top_k needs a value",)),
    Case("argument_unknown", lambda c, w: train()(c, w) + ["--bogus"], ("'--bogus'",)),
    Case("model_kwargs_not_a_mapping", train(model_kwargs=3), ("'model_kwargs'", "mapping")),
    Case("evaluate_without_config_json", lambda c, w: ["evaluate", "--workdir", str(w)],
         ("config.json not found",)),
    # values out of range, and keys that bound each other
    *[Case(f"range_{key}_{value}", train(**{key: value}), (f"config.{key}={value}", must))
      for key, value, must in [
          ("batch_size", 0, ">= 1"), ("batch_size", -8, ">= 1"), ("eval_batch_size", 0, ">= 1"),
          ("keep_checkpoints", 0, "would delete every checkpoint"),
          ("learning_rate", 0.0, "> 0"), ("momentum", 1.0, "[0, 1)"),
          ("weight_decay", -0.001, ">= 0"), ("top_k", -1, ">= 0"),
          ("cam_threshold", 1.5, "[0, 1]"), ("cam_curve_interval", 0.0, "(0, 1]"),
          ("data_workers", -1, ">= 0"), ("data_threads", 0, ">= 1"), ("max_boxes", 0, ">= 1"),
          ("num_train_steps", 0, ">= 1"), ("log_every_steps", 0, ">= 1"),
          ("checkpoint_every_steps", 0, ">= 1"), ("eval_every_steps", -1, ">= 0"),
          ("image_size", 0, ">= 1"), ("seed", -1, ">= 0")]],
    Case("range_learning_rate_inf", train(learning_rate="1e999"),
         ("config.learning_rate=inf", "> 0")),
    *[Case(f"lr_boundaries_{name}", train(lr_schedule="step", lr_boundaries=value),
           (f"config.lr_boundaries={value}", "increasing steps >= 1"))
      for name, value in [("decreasing", "(30, 10)"), ("zero", "(0,)"),
                          ("not_steps", "(1.5,)")]],
    Case("warmup_not_below_steps", train(warmup_steps=2),
         ("config.warmup_steps=2 must be below config.num_train_steps=2",)),
    # choices
    *[Case(f"choice_{key}", train(**{key: value}), (f"config.{key}='{value}'", *allowed))
      for key, value, allowed in [
          ("upsample", "nearest", ("bilinear, bicubic",)),
          ("normalize", "zscore", ("minmax, max",)),
          ("pooling", "avg", ("gap, gmp",)), ("model", "resnet9000", ("tiny_gap",)),
          ("lr_schedule", "linear", ("cosine",)), ("augment", "mixup", ("flip",)),
          ("optimizer", "lamb", ("sgd, adamw",)),
          ("compute_dtype", "float16", ("bfloat16",)),
          ("cam_method", "gradcam", ("grad_cam", "did you mean grad_cam?")),
          ("eval_transform", "crop", ("resize, imagenet",))]],
    Case("model_typo", train(model="resnet5"), ("config.model='resnet5'", "did you mean resnet50")),
    # the WSOL method (docs/wsol.md): unknown, out of range, a network that cannot host it
    Case("choice_wsol_method", train(wsol_method="hide_and_seek"),
         ("config.wsol_method='hide_and_seek'", "cam, has, acol, spg, adl, cutmix, fewshot")),
    *[Case(f"range_{key}", train(wsol_method=method, **{key: value}),
           (f"config.{key}={value}", must))
      for method, key, value, must in [
          ("has", "has_drop_rate", 1.5, "in [0, 1]"), ("has", "has_grid_size", -4, ">= 0"),
          ("acol", "acol_threshold", -0.1, "in [0, 1]"),
          ("adl", "adl_drop_rate", 2.0, "in [0, 1]"), ("cutmix", "cutmix_beta", -1.0, ">= 0")]],
    Case("range_spg_thresholds", train(wsol_method="spg", spg_thresholds="((0.7, 0.01),)"),
         ("config.spg_thresholds=((0.7, 0.01),)", "three (high, low) pairs")),
    Case("wsol_spg_without_intermediate_layers", train(wsol_method="spg", model="resnet18"),
         ("config.wsol_method='spg'", "intermediate layers", "resnet18", "tiny_gap")),
    Case("wsol_acol_with_gmp", train(wsol_method="acol", pooling="gmp"),
         ("config.wsol_method='acol'", "config.pooling must be 'gap'")),
    # TS-CAM: a DeiT's class-token attention, its maps averaged; a CNN's method on a DeiT
    Case("wsol_tscam_on_a_cnn", train(wsol_method="tscam"),
         ("config.wsol_method='tscam'", "class-token attention", "tiny_gap",
          "deit_small_patch16_224")),
    Case("wsol_tscam_with_gmp", train(wsol_method="tscam", model="deit_small_patch16_224",
                                      pooling="gmp"),
         ("config.wsol_method='tscam'", "config.pooling must be 'gap'")),
    Case("wsol_acol_on_a_deit", train(wsol_method="acol", model="deit_small_patch16_224"),
         ("config.wsol_method='acol'", "deit_small_patch16_224", "tiny_gap")),
    Case("wsol_fewshot_without_val", train(wsol_method="fewshot", val_split=""),
         ("config.wsol_method='fewshot'", "set config.val_split")),
    Case("resume_other_wsol_method", train(wsol_method="has"),
         ("written with wsol_method='cam'", "wsol_method='has'"), setup=trained),
    # the network
    Case("model_kwargs_unknown", train(**{"model_kwargs.nope": 1}),
         ("config.model_kwargs.nope is not an argument of tiny_gap", "widths")),
    Case("model_kwargs_reserved", train(**{"model_kwargs.num_classes": 3}),
         ("config.model_kwargs.num_classes is set by camjax",)),
    Case("model_kwargs_bad_value", train(**{"model_kwargs.widths": "(8,)"}),
         ("config.model_kwargs", "do not build tiny_gap", "differ in length")),
    Case("image_size_below_stride", vgg(image_size=8),
         ("config.image_size=8 is too small for vgg16_gap", "stride 16")),
    # the layer of the maps (config.cam_layer, localize --layer): a module of the network,
    # for a method that takes one
    Case("cam_layer_not_a_module", train(cam_method="grad_cam", cam_layer="backbone.9"),
         ("config.cam_layer", "'backbone.9' is not a module", "backbone")),
    Case("eigen_smooth_without_channels", train(cam_method="saliency", eigen_smooth=True),
         ("config.eigen_smooth", "cam_method='saliency'", "grad_cam")),
    Case("cam_layer_for_cam", train(cam_layer="backbone.2"),
         ("config.cam_layer='backbone.2'", "takes no layer", "grad_cam")),
    # the devices
    Case("batch_not_divisible", train(batch_size=6), ("config.batch_size=6", "divisible", "(4)"),
         patch=devices(4)),
    Case("eval_batch_not_divisible", train(eval_batch_size=10),
         ("config.eval_batch_size=10", "(4)"), patch=devices(4)),
    # the dataset: named before any work, and no workdir left behind
    Case("dataset_unknown", train(dataset="mnisst"),
         ("config.dataset='mnisst' is not a TFDS dataset", "did you mean mnist")),
    Case("dataset_typo", train(dataset="camjax_shape"),
         ("config.dataset='camjax_shape'", "did you mean camjax_shapes?")),
    Case("dataset_config_unknown", train(dataset="camjax_shapes/nope"),
         ("config.dataset='camjax_shapes/nope'", "no config 'nope'", "default, tiny")),
    Case("split_unknown", train(eval_split="tset"),
         ("config.eval_split='tset'", "train, test, val", "did you mean test")),
    Case("prepare_unknown", lambda c, w: ["prepare", "--dataset", "nope_ds", "--data_dir",
                                          str(w)], ("--dataset='nope_ds'", "not a TFDS")),
    Case("top_k_above_classes", train(top_k=50), ("config.top_k=50", "12 classes")),
    Case("folder_missing", train(dataset="folder:/nonexistent/pets"),
         ("config.dataset=folder:/nonexistent/pets", "no such folder")),
    Case("folder_is_a_file", lambda c, w: train(dataset=f"folder:{c.file('weights.txt')}")(c, w),
         ("weights.txt", "no such folder")),
    Case("folder_without_images", lambda c, w: train(dataset=f"folder:{parent_data(c, w)}")(c, w),
         ("data/train/cat", "empty class folder"), setup=empty_class_folders,
         absent=_out),
    Case("wsol_missing", train(dataset="wsol:/nonexistent/metadata/CUB",
                               image_root="/nonexistent/dataset/CUB"),
         ("config.dataset=wsol:/nonexistent/metadata/CUB", "no such folder")),
    Case("wsol_cub_weights_missing", wsol_cub,
         ("config.pretrained='/nonexistent/weights/resnet50-0676ba61.pth'", "no such file",
          "https://download.pytorch.org/models/resnet50-0676ba61.pth", ".safetensors",
          "--config.pretrained="),
         patch=lambda mp: mp.setenv("CAMJAX_WEIGHTS_DIR", "/nonexistent/weights")),
    # the weights file
    Case("pretrained_missing", vgg(pretrained="/nonexistent/w.safetensors"),
         ("config.pretrained='/nonexistent/w.safetensors'", "no such file",
          "--config.pretrained=")),
    Case("pretrained_garbage", vgg(pretrained=F("garbage.safetensors")),
         ("config.pretrained=", "garbage.safetensors", "SafetensorError")),
    Case("pretrained_garbage_pth", vgg(pretrained=F("garbage.pth")),
         ("config.pretrained=", "garbage.pth", "not a readable state dict")),
    Case("pretrained_pth_without_torch", vgg(pretrained=F("garbage.pth")),
         ("garbage.pth", "needs PyTorch"), patch=no_torch),
    Case("pretrained_suffix", vgg(pretrained=F("weights.txt")),
         ("weights.txt", "expected a .safetensors or .pth file")),
    Case("pretrained_wrong_shape", vgg(pretrained=F("wrong.safetensors")),
         ("wrong.safetensors", "'features.0.weight': shape (64, 3, 5, 5)")),
    Case("pretrained_for_tiny_gap", train(pretrained=F("wrong.safetensors")),
         ("config.pretrained=", "no torchvision weights for TinyGAP")),
    # annotation files
    Case("annotations_missing", train(eval_annotations="/nonexistent/LOC_val_solution.csv"),
         ("config.eval_annotations", "/nonexistent/LOC_val_solution.csv")),
    Case("annotations_without_synsets", train(eval_annotations=F("bad.csv")),
         ("bad.csv", "needs config.synsets")),
    Case("annotations_malformed", train(eval_annotations=F("bad.csv"), synsets=F("synsets.txt")),
         ("bad.csv:2", "PredictionString")),
    # workdirs and output folders
    Case("workdir_is_a_file", train(), ("--workdir", "is a file"), setup=a_file),
    Case("workdir_under_a_file", train(), ("cannot create --workdir", "Not a directory"),
         setup=lambda c, w: a_file(c, w) / "sub"),
    Case("workdir_read_only", train(), ("--workdir", "is not writable"),
         setup=read_only_folder),
    Case("evaluate_no_checkpoint", lambda c, w: ["evaluate", "--config", str(DEMO), "--workdir",
                                                 str(w), *tiny_args(c.data_dir)],
         ("--workdir", "train first (camjax train --config CONFIG --workdir"),
         setup=lambda c, w: (w.mkdir(parents=True), w)[1]),
    Case("evaluate_out_is_a_file", lambda c, w: ["evaluate", "--workdir", str(c.trained()),
                                                 "--out", c.file("weights.txt")],
         ("--out", "weights.txt is a file"), setup=trained),
    Case("evaluate_out_left_unmade", lambda c, w: [
        "evaluate", "--workdir", str(c.trained()), "--out", str(w),
        "--config.dataset=folder:/nonexistent/pets"],
        ("config.dataset=folder:/nonexistent/pets", "no such folder")),
    Case("evaluate_read_only_workdir", lambda c, w: ["evaluate", "--workdir", str(w)],
         ("output folder", "w/eval", "elsewhere with --out DIR"),
         setup=read_only_copy_of_trained),
    # resuming another run, or this run with another meaning
    Case("resume_below_the_checkpoint", train(num_train_steps=1),
         ("config.num_train_steps=1", "below step 2", "checkpoints/2"), setup=trained),
    Case("resume_other_seed", train(seed=1), ("written with seed=0", "seed=1"), setup=trained),
    Case("resume_other_pooling", train(pooling="gmp"), ("pooling='gap'", "pooling='gmp'"),
         setup=trained),
    Case("resume_other_image_size", train(image_size=64),
         ("written with image_size=32, this config has image_size=64",), setup=trained),
    Case("resume_other_optimizer", train(optimizer="adamw"),
         ("written with optimizer='sgd', this config has optimizer='adamw'",), setup=trained),
    Case("resume_longer_cosine", train(num_train_steps=4),
         ("written with num_train_steps=2, this config has num_train_steps=4",),
         setup=trained),
    # camjax localize: nothing written, not even the --out folder
    Case("localize_bad_weights", localize("--weights", F("garbage.safetensors"),
                                          "--model", "resnet18", workdir=False),
         ("garbage.safetensors",)),
    Case("localize_unknown_model", localize("--weights", F("garbage.safetensors"),
                                            "--model", "resnet19", workdir=False),
         ("--model 'resnet19'", "did you mean resnet18")),
    Case("localize_top_k_above_classes", localize("--top_k", "50"),
         ("--top_k 50", "12 classes")),
    Case("localize_method_typo", localize("--method", "gradcam"),
         ("--method 'gradcam'", "did you mean grad_cam")),
    Case("localize_layer_not_a_module", localize("--method", "grad_cam", "--layer", "backbone.9"),
         ("'backbone.9' is not a module",)),
    Case("localize_eigen_smooth_for_cam", localize("--eigen_smooth"),
         ("--eigen_smooth", "'cam'", "grad_cam")),
    Case("localize_layer_for_cam", localize("--layer", "backbone.2"),
         ("--layer", "takes no layer")),
    # --class: a class of the run's class_names.json (camjax_shapes: disk, ..., l_shape)
    Case("localize_class_index_out_of_range", localize("--class", "12"),
         ("--class 12", "12 classes", "class_names.json")),
    Case("localize_class_negative_index", localize("--class", "-1"),
         ("--class -1", "0 to 11")),
    Case("localize_class_name_typo", localize("--class", "disk,triangel"),
         ("--class 'triangel'", "did you mean triangle")),
    Case("localize_class_repeated_with_a_bad_one", localize("--class", "2", "--class", "sqare"),
         ("--class 'sqare'", "did you mean square")),
    Case("localize_class_empty", localize("--class", "disk,"), ("--class", "empty class")),
    Case("localize_workdir_without_checkpoint",
         localize(workdir=lambda c, w: w.parent / "run"),
         ("no checkpoint", "camjax train --config CONFIG --workdir"),
         setup=lambda c, w: (without_checkpoints(c, w.parent / "run"), w)[1], absent=_out),
    # runs that fail on the way: exit 1, the checkpoints before it kept
    Case("checkpoint_save_fails", train(num_train_steps=3, eval_at_end=False, val_split="",
                                        lr_schedule="constant"),
         ("could not save the checkpoint of step 2", "checkpoints", "No space left on device"),
         status=1, up_front=False, patch=full_disk,
         kept=lambda w: _kept_steps(w, [1])),   # step 2 failed, training stopped before 3
    Case("image_does_not_decode", lambda c, w: train(
        dataset=f"folder:{parent_data(c, w)}", batch_size=4, num_train_steps=6,
        eval_at_end=False, val_split="", lr_schedule="constant")(c, w),
         ("data/train/", "does not decode", "read for step 2", "checkpoint of step 1 is kept",
          "--config.skip_bad_images=True"),
         status=1, up_front=False, setup=bad_image_folder,
         kept=lambda w: _kept_steps(w, [1], logged=[1])),
]


def _kept_steps(workdir: Path, steps: list[int], logged: list[int] | None = None) -> None:
    kept = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir())
    assert kept == steps, f"{workdir}: checkpoints {kept}, expected {steps}"
    if logged is not None:
        lines = (workdir / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(line)["step"] for line in lines] == logged


# ------------------------------------------------------------------------ read-only folders
def make_read_only(path: Path) -> bool:
    """chmod for users, the immutable attribute for root (which ignores permissions);
    False when neither makes the folder refuse a new file."""
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)],
                                                        capture_output=True).returncode:
            return False
    else:
        path.chmod(0o555)
    try:
        fd, probe = tempfile.mkstemp(dir=path)
    except OSError:
        return True
    os.close(fd)
    os.unlink(probe)
    undo_read_only(path)
    return False


def undo_read_only(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        path.chmod(0o755)


def write_files(folder: Path) -> None:
    from safetensors.numpy import save_file
    folder.mkdir(parents=True)
    for name, text in CONFIG_FILES.items():
        (folder / name).write_text(text)
    (folder / "garbage.safetensors").write_bytes(b"\x00garbage bytes, not a header")
    (folder / "garbage.pth").write_bytes(b"garbage bytes, not a pickle")
    (folder / "weights.txt").write_text("weights")
    save_file({"features.0.weight": np.zeros((64, 3, 5, 5), np.float32)},   # vgg16: 3x3
              str(folder / "wrong.safetensors"))
    (folder / "synsets.txt").write_text("n01440764 tench, Tinca tinca\n")
    (folder / "bad.csv").write_text("ImageId,PredictionString\nval_1,n01440764 1 2 3\n")
    (folder / "photos").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), np.uint8)).save(folder / "photos" / name)


