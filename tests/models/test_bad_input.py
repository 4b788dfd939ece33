"""models.create's arguments and unusable weights files: named errors; NaN weights: a
warning naming the tensors."""
import warnings

import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import save_file

import camjax
from camjax.errors import ModelError, UserError
from camjax.models import load_pretrained
from camjax.models.weights_file import TorchMissingError, WeightsFileError

from .test_pretrained import alexnet_state_dict
from .test_zoo import abstract


def _tiny(num_classes):
    return nnx.eval_shape(lambda: camjax.models.create("tiny_gap", num_classes=num_classes,
                                                       rngs=nnx.Rngs(0)))


@pytest.mark.parametrize("num_classes", [12, np.int64(12), np.int32(12), np.uint8(12)])
def test_num_classes_may_be_any_integral_number(num_classes):
    model = _tiny(num_classes)
    assert model.head.classifier.kernel.shape == (128, 12)      # tiny_gap's 128 CAM channels


@pytest.mark.parametrize("num_classes", [True, False, 0, -3, 12.0, "12", np.float32(12)])
def test_num_classes_that_is_not_a_positive_integer_is_an_error(num_classes):
    with pytest.raises(ModelError, match="num_classes must be a positive integer"):
        _tiny(num_classes)


def test_unknown_model_and_pooling_are_user_errors():
    with pytest.raises(UserError, match=r"unknown model 'resnet9000'; available: .*tiny_gap"):
        camjax.models.create("resnet9000", num_classes=3, rngs=nnx.Rngs(0))
    with pytest.raises(UserError, match="pooling must be one of"):
        camjax.models.create("tiny_gap", num_classes=3, pooling="avg", rngs=nnx.Rngs(0))


def test_garbage_safetensors_names_the_file(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"\x00garbage, not a header")
    with pytest.raises(WeightsFileError, match=r"weights\.safetensors' is not a readable "
                                               r"state dict \(SafetensorError"):
        load_pretrained(abstract("alexnet_gap"), path)


def test_garbage_pth_names_the_file(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "weights.pth"
    path.write_bytes(b"not a pickle")
    with pytest.raises(WeightsFileError, match=r"weights\.pth' is not a readable state dict"):
        load_pretrained(abstract("alexnet_gap"), path)


def test_pth_without_torch_is_a_user_error_and_an_import_error(tmp_path, monkeypatch):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(TorchMissingError, match="needs PyTorch") as info:
        load_pretrained(abstract("alexnet_gap"), path)
    assert isinstance(info.value, UserError) and isinstance(info.value, ImportError)


def test_nan_tensors_load_with_a_warning_naming_them(tmp_path):
    state = alexnet_state_dict()
    state["features.3.weight"][0, 0, 0, 0] = np.nan
    state["features.8.bias"][2] = np.inf
    path = tmp_path / "nan.safetensors"
    save_file(state, str(path))
    with pytest.warns(UserWarning, match=r"nan\.safetensors: 2 tensor\(s\) hold NaN or inf "
                                         r"values \(features\.3\.weight, features\.8\.bias\)"):
        report = load_pretrained(abstract("alexnet_gap"), path)
    assert "features.3.weight" in report.loaded


def test_finite_tensors_load_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_pretrained(abstract("alexnet_gap"), alexnet_state_dict())
