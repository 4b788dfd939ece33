"""Numerical equivalence of the classifiers with PyTorch: a torchvision-layout network
(``torch_classifiers``) with random weights and random BatchNorm statistics, in eval mode, is
saved as ``.safetensors``, loaded whole into camjax, and both give the same logits and the
same CAMs of their top-5 classes (the torch side's CAMs computed here, by einsum, from its
final features and classifier weight).

Tolerance: 1e-4 of the largest magnitude of the compared array (logits, CAMs), i.e. relative
to their scale; float32 differences seen are ~1e-6 of it. The deep networks (ResNet-101/152,
DenseNet-161) use one image at 224 and one at 112x144 and are marked slow (still in
``make test``); the others use two images at 224 and one at 200x168 (odd map sizes on the
way: torch's floor rules for strided convs and pools are exercised).
"""
from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from camjax.cam import class_activation_maps
from camjax.models import class_weights, load_pretrained

from .test_classifiers import FEATURES, PUBLISHED, classifier
from .test_zoo import FAST_COMPILE

torch = pytest.importorskip("torch", reason="PyTorch is needed for the numerical comparison "
                                            "with torchvision's classifiers")
from safetensors.torch import save_file  # noqa: E402  (needs torch)

from . import torch_classifiers as ref  # noqa: E402
from .torch_reference import randomize_batchnorm  # noqa: E402

HEAVY = ("resnet101", "resnet152", "densenet161")
SIZES = {"light": ((2, 224, 224), (1, 200, 168)), "heavy": ((1, 224, 224), (1, 112, 144))}
TOLERANCE = 1e-4


def assert_close(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 1e-3  # a meaningful comparison, not of zeros
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE * scale)


def camjax_copy(name):
    """A fresh abstract copy of the cached model: nothing is traced again."""
    return nnx.merge(*nnx.split(classifier(name)))


def fill_abstract_rest(model):
    """Give leaves that no weights file holds (the dropout's RNG state) concrete values."""
    for _, var in nnx.to_flat_state(nnx.state(model)):
        value = var.get_value()
        if isinstance(value, jax.ShapeDtypeStruct):
            is_key = jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key)
            var.set_value(jax.random.key(0) if is_key else np.zeros(value.shape, value.dtype))
    return model


def torch_cams(features, weight, classes):
    """(B, K, h, w) features, (C, K) weight, (B, k) classes -> (B, k, h, w), by einsum."""
    all_cams = torch.einsum("bkhw,ck->bchw", features, weight)
    return torch.stack([all_cams[b, classes[b]] for b in range(len(classes))])


@pytest.mark.torch
# the deep variants repeat resnet50's and densenet121's blocks: make test-all runs them
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.exhaustive) if n in HEAVY
                                  else n for n in PUBLISHED])
def test_logits_and_cams_match_pytorch(name, tmp_path):
    torch.manual_seed(0)
    net = randomize_batchnorm(ref.BUILDERS[name]())
    state_dict = net.state_dict()
    save_file(state_dict, str(tmp_path / f"{name}.safetensors"))

    model = camjax_copy(name)
    report = load_pretrained(model, tmp_path / f"{name}.safetensors")
    assert report.classifier_loaded and report.new == []
    assert sorted(report.loaded + report.skipped) == sorted(state_dict)
    assert all(k.endswith("num_batches_tracked") for k in report.skipped)
    model = fill_abstract_rest(model)
    model.eval()
    graphdef, state = nnx.split(model)
    state = nnx.as_pure(state)

    def forward(state, images):
        return nnx.merge(graphdef, state)(images)

    rng = np.random.default_rng(1)
    for batch, h, w in SIZES["heavy" if name in HEAVY else "light"]:
        images = rng.normal(size=(batch, h, w, 3)).astype(np.float32)
        with torch.no_grad():
            x = torch.from_numpy(images.transpose(0, 3, 1, 2))
            expected_logits, features_t = net.logits_and_features(x)
            top5 = torch.topk(expected_logits, 5).indices
            expected_cams = torch_cams(features_t, net.classifier_weight, top5)
        logits, features = jax.jit(forward).lower(state, images).compile(FAST_COMPILE)(
            state, images)
        assert features.shape == (batch, *features_t.shape[2:], FEATURES[name][0])
        if (h, w) == (224, 224):
            assert features.shape[1:3] == FEATURES[name][1]
        assert_close(logits, expected_logits.numpy())
        cams = class_activation_maps(features, class_weights(model), np.asarray(top5))
        assert_close(cams, expected_cams.numpy())


LEGACY_DENSENET = (("norm1", "norm.1"), ("conv1", "conv.1"), ("norm2", "norm.2"),
                   ("conv2", "conv.2"))


@pytest.mark.torch
def test_densenet_download_names_load_like_torchvisions_own():
    # torchvision's densenet121-a639ec97.pth says denselayer1.norm.1 for denselayer1.norm1
    torch.manual_seed(0)
    state = {k: v.numpy() for k, v in randomize_batchnorm(ref.DenseNet(121)).state_dict().items()}
    legacy = {}
    for key, value in state.items():
        for new, old in LEGACY_DENSENET:
            if ".denselayer" in key:
                key = key.replace(f".{new}.", f".{old}.")
        legacy[key] = value
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    a, b = camjax_copy("densenet121"), camjax_copy("densenet121")
    assert len(load_pretrained(a, state).loaded) == len(load_pretrained(b, legacy).loaded)
    sa, sb = (dict(nnx.to_flat_state(nnx.state(m, nnx.Any(nnx.Param, nnx.BatchStat))))
              for m in (a, b))
    assert sa.keys() == sb.keys()
    assert all(np.array_equal(sa[p].get_value(), sb[p].get_value()) for p in sa)


def _torchvision_models():
    try:
        import torchvision.models
    except Exception as err:  # noqa: BLE001  (the CUDA-only build raises RuntimeError)
        pytest.skip(f"torchvision cannot be imported here ({type(err).__name__}: {err}); "
                    "the references reproduce its names by construction")
    return torchvision.models


@pytest.mark.torch
def test_references_have_torchvisions_exact_state_dicts():
    tvm = _torchvision_models()
    for name in PUBLISHED:
        ours, theirs = ref.BUILDERS[name]().state_dict(), getattr(tvm, name)().state_dict()
        assert list(ours) == list(theirs), name
        assert all(ours[k].shape == theirs[k].shape for k in ours), name
