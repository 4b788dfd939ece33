"""``camjax evaluate`` of a pretrained classifier with no checkpoint: the same evaluation job
as a trained workdir, on the classifier's own weights."""
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import save_file

import camjax
from camjax import config as config_lib, models, training
from camjax.data import pipeline
from camjax.errors import UserError
from tests.conftest import DEMO
from tests.models.test_classifiers import resnet_state_dict
from tests.training.conftest import TINY


def _resnet18_file(path, num_classes, seed=0):
    """A torchvision-format resnet18 state dict with usable random weights: small convs,
    positive BatchNorm variances."""
    rng = np.random.default_rng(seed)
    state = resnet_state_dict(18, num_classes, seed)
    for key, value in state.items():
        if key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        elif key.endswith("weight") and value.ndim == 4:
            state[key] = (value * 0.05).astype(np.float32)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(path))
    return path


def _config(data_dir, **overrides):
    return config_lib.load(DEMO, {**TINY, "data_dir": data_dir, "model": "resnet18",
                                  "val_split": "", **overrides})


def test_pretrained_classifier_is_evaluated_without_a_checkpoint(tiny_data_dir, tmp_path):
    weights = _resnet18_file(tmp_path / "r18.safetensors", num_classes=12)
    config = _config(tiny_data_dir, pretrained=str(weights))
    metrics = training.evaluate_workdir(config, tmp_path / "work")
    assert (tmp_path / "work" / "eval" / "report.md").is_file()
    assert not (tmp_path / "work" / "checkpoints").exists()

    # the same model run directly over the split: the same top-1 error and GT-class maps
    model = models.create("resnet18", num_classes=12, rngs=nnx.Rngs(0))
    models.load_pretrained(model, str(weights))
    src = pipeline.source(config.dataset, "test", tiny_data_dir)
    wrong, n = 0, 0
    for _, batch in pipeline.eval_batches(src, config):
        logits = camjax.explain(model, batch["image"], top_k=5).logits
        v = batch["valid"]
        wrong += int((np.asarray(logits).argmax(1)[v] != batch["label"][v]).sum())
        n += int(v.sum())
    assert metrics["cam"]["num_images"] == n == 32
    assert metrics["cam"]["cls_top1_err"] == pytest.approx(100.0 * wrong / n)


def test_a_classifier_of_other_classes_is_refused(tiny_data_dir, tmp_path):
    weights = _resnet18_file(tmp_path / "r18.safetensors", num_classes=1000)
    config = _config(tiny_data_dir, pretrained=str(weights))
    with pytest.raises(UserError, match="own classes"):
        training.evaluate_workdir(config, tmp_path / "work")
