"""Importing torchvision ImageNet weights: name maps, conversions, errors, and numerical
equivalence of the loaded backbones with plain PyTorch references (``torch_reference``)."""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import save_file

from camjax.models import load_pretrained
from camjax.models.pretrained import (alexnet_path, convert, googlenet_path, resnet50_path,
                                      vgg16_path)

from .test_zoo import FAST_COMPILE, abstract, materialize


def alexnet_state_dict(seed=0):
    """torchvision alexnet names and shapes, numpy values (no torch needed)."""
    rng = np.random.default_rng(seed)
    shapes = {"features.0": (64, 3, 11, 11), "features.3": (192, 64, 5, 5),
              "features.6": (384, 192, 3, 3), "features.8": (256, 384, 3, 3),
              "features.10": (256, 256, 3, 3)}
    state = {}
    for name, shape in shapes.items():
        state[f"{name}.weight"] = rng.normal(size=shape).astype(np.float32)
        state[f"{name}.bias"] = rng.normal(size=shape[:1]).astype(np.float32)
    state["classifier.1.weight"] = np.zeros((8, 8), np.float32)  # skipped by name
    state["classifier.6.bias"] = np.zeros(4, np.float32)
    return state


def snapshot(model):
    return {p: np.asarray(v.get_value()) for p, v in nnx.to_flat_state(nnx.state(model))
            if not jax.dtypes.issubdtype(v.get_value().dtype, jax.dtypes.prng_key)}


# --- conversions and name maps ----------------------------------------------------------

def test_convert_conv_oihw_to_hwio_and_keeps_vectors():
    w = np.arange(5 * 3 * 2 * 4, dtype=np.float32).reshape(5, 3, 2, 4)  # O, I, H, W
    hwio = convert(w)
    assert hwio.shape == (2, 4, 3, 5)
    for o, i, h, x in [(0, 0, 0, 0), (4, 2, 1, 3), (2, 1, 0, 2)]:
        assert hwio[h, x, i, o] == w[o, i, h, x]
    v = np.arange(7.0)
    np.testing.assert_array_equal(convert(v), v)


@pytest.mark.parametrize("fn, name, path", [
    (alexnet_path, "features.0.weight", ("features", 0, "kernel")),
    (alexnet_path, "features.10.bias", ("features", 4, "bias")),
    (alexnet_path, "classifier.6.weight", None),
    (vgg16_path, "features.0.weight", ("features", 0, "kernel")),
    (vgg16_path, "features.5.bias", ("features", 2, "bias")),
    (vgg16_path, "features.28.weight", ("features", 12, "kernel")),
    (vgg16_path, "classifier.0.weight", None),
    (googlenet_path, "conv1.conv.weight", ("conv1", "conv", "kernel")),
    (googlenet_path, "conv3.bn.weight", ("conv3", "bn", "scale")),
    (googlenet_path, "conv2.bn.running_mean", ("conv2", "bn", "mean")),
    (googlenet_path, "conv2.bn.num_batches_tracked", None),
    (googlenet_path, "inception3a.branch1.bn.bias", ("inception3a", "branch1", "bn", "bias")),
    (googlenet_path, "inception4b.branch2.1.conv.weight",
     ("inception4b", "branch2", 1, "conv", "kernel")),
    (googlenet_path, "inception4e.branch3.0.bn.running_var",
     ("inception4e", "branch3", 0, "bn", "var")),
    (googlenet_path, "inception4e.branch4.1.conv.weight",
     ("inception4e", "branch4", "conv", "kernel")),
    (googlenet_path, "inception5a.branch1.conv.weight", None),
    (googlenet_path, "aux1.fc1.weight", None),
    (googlenet_path, "fc.bias", None),
    (resnet50_path, "conv1.weight", ("conv1", "kernel")),
    (resnet50_path, "bn1.running_var", ("bn1", "var")),
    (resnet50_path, "layer1.0.conv2.weight", ("layer1", 0, "conv2", "kernel")),
    (resnet50_path, "layer3.5.bn3.weight", ("layer3", 5, "bn3", "scale")),
    (resnet50_path, "layer2.0.downsample.0.weight", ("layer2", 0, "downsample", 0, "kernel")),
    (resnet50_path, "layer4.0.downsample.1.running_mean",
     ("layer4", 0, "downsample", 1, "mean")),
    (resnet50_path, "layer4.2.bn2.num_batches_tracked", None),
    (resnet50_path, "fc.weight", None),
])
def test_name_maps(fn, name, path):
    assert fn(name) == path


@pytest.mark.parametrize("fn, name", [
    (alexnet_path, "features.1.weight"),   # a ReLU
    (alexnet_path, "features.0.running_mean"),
    (vgg16_path, "features.30.weight"),    # pool5
    (googlenet_path, "inception4e.branch4.0.conv.weight"),  # branch4.0 is the pool
    (googlenet_path, "inception3a.branch2.conv.weight"),
    (googlenet_path, "inception3a.conv.weight"),
    (resnet50_path, "layer1.0.conv1.bias"),  # torchvision's convs have no bias
    (resnet50_path, "layer1.conv1.weight"),
    (resnet50_path, "layer1.0.downsample.2.weight"),
    (resnet50_path, "head.weight"),
])
def test_name_maps_reject_unknown_names(fn, name):
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        fn(name)


# --- loading without torch (numpy state dicts) ------------------------------------------

@pytest.fixture(scope="module")
def alexnet():
    return materialize(abstract("alexnet_gap", num_classes=5))


def test_load_safetensors_alexnet_numpy(alexnet, tmp_path):
    state = alexnet_state_dict()
    save_file(state, str(tmp_path / "alexnet.safetensors"))
    before = snapshot(alexnet)
    report = load_pretrained(alexnet, tmp_path / "alexnet.safetensors")
    assert sorted(report.loaded) == sorted(k for k in state if k.startswith("features"))
    assert sorted(report.skipped) == ["classifier.1.weight", "classifier.6.bias"]
    assert sorted(report.new) == ["cam_conv.conv.bias", "cam_conv.conv.kernel",
                                  "head.classifier.kernel"]
    np.testing.assert_array_equal(alexnet.features[3].kernel[...],
                                  state["features.8.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(alexnet.features[1].bias[...], state["features.3.bias"])
    after = snapshot(alexnet)  # new layers keep their initialisation
    np.testing.assert_array_equal(after[("head", "classifier", "kernel")],
                                  before[("head", "classifier", "kernel")])


def test_load_from_mapping_strips_dataparallel_prefix(alexnet):
    state = {f"module.{k}": v for k, v in alexnet_state_dict(seed=1).items()}
    load_pretrained(alexnet, state)
    np.testing.assert_array_equal(alexnet.features[0].bias[...],
                                  state["module.features.0.bias"])


def test_alexnet_star_keeps_extra_convs_new():
    model = materialize(abstract("alexnet_star_gap", num_classes=5))
    report = load_pretrained(model, alexnet_state_dict())
    assert sorted(report.new) == ["cam_conv.conv.bias", "cam_conv.conv.kernel", "extra.0.bias",
                                  "extra.0.kernel", "extra.1.bias", "extra.1.kernel",
                                  "head.classifier.kernel"]


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update({"features.1.weight": s["features.0.weight"]}), r"'features\.1\.weight'"),
    (lambda s: s.update({"features.3.weight": np.zeros((192, 64, 3, 3), np.float32)}),
     r"'features\.3\.weight': shape \(192, 64, 3, 3\).*\(5, 5, 64, 192\)"),
    (lambda s: s.update({"features.10.bias": np.zeros(255, np.float32)}),
     r"'features\.10\.bias'"),
    (lambda s: s.pop("features.6.bias"), r"no weights for 'features\.2\.bias'"),
])
def test_mismatch_is_a_clear_error_and_changes_nothing(alexnet, edit, message):
    state = alexnet_state_dict(seed=2)
    edit(state)
    before = snapshot(alexnet)
    with pytest.raises(ValueError, match=message):
        load_pretrained(alexnet, state)
    after = snapshot(alexnet)
    assert all(np.array_equal(before[p], after[p]) for p in before)


def test_wrong_architecture_is_a_clear_error(alexnet):
    vgg_names = {"features.2.weight": np.zeros((64, 64, 3, 3), np.float32)}
    with pytest.raises(ValueError, match=r"'features\.2\.weight' is not a parameter of "
                                         r"torchvision's alexnet"):
        load_pretrained(alexnet, vgg_names)


def test_unsupported_model():
    with pytest.raises(ValueError, match="no torchvision weights for NIN"):
        load_pretrained(abstract("nin"), {})


def test_pth_without_torch_says_what_to_do(alexnet, tmp_path, monkeypatch):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(ImportError, match="install torch, or convert the file to .safetensors"):
        load_pretrained(alexnet, path)


def test_missing_file_and_unknown_suffix(alexnet, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_pretrained(alexnet, tmp_path / "nope.safetensors")
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="expected a .safetensors or .pth file"):
        load_pretrained(alexnet, tmp_path / "w.npz")


# --- numerical equivalence with PyTorch -------------------------------------------------

def backbone_features(model, images):
    model.eval()
    graphdef, state = nnx.split(model)
    state = nnx.as_pure(state)
    fn = jax.jit(lambda state, x: nnx.merge(graphdef, state).backbone(x))
    return np.asarray(fn.lower(state, images).compile(FAST_COMPILE)(state, images))


def torch_reference():
    torch = pytest.importorskip("torch", reason="PyTorch is needed for the numerical "
                                                "comparison with torchvision layouts")
    from . import torch_reference as ref
    return torch, ref


CASES = {  # id: (camjax name, camjax kwargs, torch reference builder)
    "alexnet": ("alexnet_gap", {}, lambda ref: ref.AlexNet()),
    "alexnet-caffe-conv1": ("alexnet_gap", {"conv1_padding": 0},
                            lambda ref: ref.AlexNet(conv1_padding=0)),
    "vgg16": ("vgg16_gap", {}, lambda ref: ref.VGG16()),
    "googlenet": ("googlenet_gap", {}, lambda ref: ref.GoogLeNet()),
    "googlenet-transform-input": ("googlenet_gap", {"transform_input": True},
                                  lambda ref: ref.GoogLeNet(transform_input=True)),
    "resnet50": ("resnet50_gap", {}, lambda ref: ref.ResNet50()),
    "resnet50-map14": ("resnet50_gap", {"mapping_resolution": 14},
                       lambda ref: ref.ResNet50(layer4_stride=1)),
}


@pytest.mark.torch
@pytest.mark.parametrize("case", list(CASES))
def test_loaded_backbone_matches_pytorch(case, tmp_path):
    torch, ref = torch_reference()
    from safetensors.torch import save_file as torch_save_file
    name, kwargs, build = CASES[case]
    torch.manual_seed(0)
    net = ref.randomize_batchnorm(build(ref))
    path = tmp_path / f"{case}.safetensors"
    torch_save_file(net.state_dict(), str(path))

    model = materialize(abstract(name, num_classes=5, **kwargs))
    report = load_pretrained(model, path)
    state_dict = net.state_dict()
    assert sorted(report.loaded + report.skipped) == sorted(state_dict)
    assert all(k.startswith(("classifier.", "fc.", "aux", "inception5"))
               or k.endswith("num_batches_tracked") for k in report.skipped)
    assert {n.split(".")[0] for n in report.new} <= {"cam_conv", "head"}

    images = np.random.default_rng(1).normal(size=(2, 70, 61, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net.backbone(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    got = backbone_features(model, jnp.asarray(images))
    expected = expected.transpose(0, 2, 3, 1)
    assert got.shape == expected.shape
    assert np.abs(expected).max() > 1e-3  # a meaningful comparison, not of zeros
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.torch
def test_pth_file_loads_like_safetensors(tmp_path):
    torch, ref = torch_reference()
    torch.manual_seed(0)
    net = ref.AlexNet()
    torch.save(net.state_dict(), tmp_path / "alexnet.pth")
    save_file({k: v.numpy() for k, v in net.state_dict().items()},
              str(tmp_path / "alexnet.safetensors"))
    from_pth = materialize(abstract("alexnet_gap", num_classes=5))
    from_st = materialize(abstract("alexnet_gap", num_classes=5))
    pth = load_pretrained(from_pth, tmp_path / "alexnet.pth")
    st = load_pretrained(from_st, tmp_path / "alexnet.safetensors")
    for field in ("loaded", "new", "skipped"):  # the same, in the files' orders
        assert sorted(getattr(pth, field)) == sorted(getattr(st, field))
    assert len(pth.loaded) == 10 and len(pth.skipped) == 6
    a, b = snapshot(from_pth), snapshot(from_st)
    assert all(np.array_equal(a[p], b[p]) for p in a)


@pytest.mark.torch
def test_max_pool2d_matches_torch():
    torch, _ = torch_reference()
    from camjax.models.googlenet import max_pool2d
    x = np.random.default_rng(0).normal(size=(2, 3, 17, 12)).astype(np.float32)
    for k, s, p, ceil in [(3, 2, 0, True), (3, 2, 1, True), (2, 2, 0, True), (3, 1, 1, True),
                          (3, 2, 1, False), (3, 2, 0, False)]:
        expected = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p,
                                                  ceil_mode=ceil).numpy()
        got = max_pool2d(jnp.asarray(x.transpose(0, 2, 3, 1)), k, s, p, ceil_mode=ceil)
        np.testing.assert_array_equal(np.asarray(got).transpose(0, 3, 1, 2), expected)
