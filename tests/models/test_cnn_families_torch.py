"""Numerical equivalence with PyTorch of googlenet, inception_v3, shufflenet_v2_*,
squeezenet1_* and convnext_*: a plain-PyTorch network with torchvision's module and
parameter names (``torch_inception``, ``torch_compact``), random weights, random BatchNorm
statistics and affine parameters, random LayerNorm parameters and layer scales, in eval
mode, is saved as ``.safetensors`` and loaded whole into camjax; both give the same logits
and the same CAMs of their top-5 classes, at the standard size and at a non-square one.

The torch side's CAMs come from its own final features and its own CAM weights, computed in
torch (``cam_weights``): the fc weight, the identity on SqueezeNet's class maps, ConvNeXt's
LayerNorm folded per image; camjax's from ``features`` and ``model.cam_weights(features)``
by a plain einsum. One network per family is compiled, once per input shape (module-scoped
fixture); every size's parameter count is checked on the torch reference (meta tensors, no
memory) against torchvision's published number. Tolerance: 1e-4 of the compared array's
largest magnitude (float32 differences seen are ~1e-6 of it).
"""
from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from camjax.models import load_pretrained
from camjax.models.identify import identify_architecture

from .test_classifiers_torch import _torchvision_models, assert_close, fill_abstract_rest
from .test_cnn_families import FEATURES, PUBLISHED, network
from .test_zoo import FAST_COMPILE

torch = pytest.importorskip("torch", reason="PyTorch is needed for the numerical comparison "
                                            "with torchvision's networks")
from safetensors.torch import save_file  # noqa: E402  (needs torch)

from . import torch_compact, torch_inception  # noqa: E402
from .torch_reference import randomize_batchnorm  # noqa: E402

BUILDERS = {"googlenet": torch_inception.GoogLeNet, "inception_v3": torch_inception.Inception3,
            **torch_compact.BUILDERS}
# one per family (SqueezeNet's two versions differ in their layers): (standard, non-square)
COMPILED = {"inception_v3": ((299, 299), (280, 320)), "googlenet": ((224, 224), (200, 168)),
            "shufflenet_v2_x0_5": ((224, 224), (200, 168)),
            "squeezenet1_0": ((224, 224), (200, 168)), "squeezenet1_1": ((224, 224), (200, 168)),
            "convnext_tiny": ((224, 224), (200, 168))}
BATCH = 2
# one xdist worker: each family's module-scoped comparison is built and compiled once
pytestmark = pytest.mark.xdist_group("cnn_families_torch")


def torch_cams(features, weights, classes):
    """(B, K, h, w) features, (K, C) or (B, K, C) weights, (B, k) classes -> (B, k, h, w)."""
    weights = weights if weights.ndim == 3 else weights.expand(len(features), *weights.shape)
    cams = torch.einsum("bkhw,bkc->bchw", features, weights)
    return torch.stack([cams[b, classes[b]] for b in range(len(classes))])


def camjax_cams(features, weights, classes):
    """(B, h, w, K) features, (K, C) or (B, K, C) weights, (B, k) classes -> (B, k, h, w)."""
    weights = np.asarray(weights)
    weights = weights if weights.ndim == 3 else np.broadcast_to(weights, (len(features),
                                                                          *weights.shape))
    cams = np.einsum("bhwk,bkc->bchw", np.asarray(features), weights)
    return np.stack([cams[b, classes[b]] for b in range(len(classes))])


@pytest.fixture(scope="module", params=list(COMPILED))
def compared(request, tmp_path_factory):
    """The torch reference and the camjax network loaded from its safetensors file, and both
    sides' logits, features and CAM weights at the two sizes (each compiled once)."""
    name = request.param
    torch.manual_seed(0)
    net = torch_compact.randomize_norms(randomize_batchnorm(BUILDERS[name]())).eval()
    path = tmp_path_factory.mktemp(name) / f"{name}.safetensors"
    save_file(net.state_dict(), str(path))
    model = nnx.merge(*nnx.split(network(name)))  # a copy of the cached abstract network
    report = load_pretrained(model, path)
    model = fill_abstract_rest(model)
    model.eval()
    graphdef, state = nnx.split(model)
    state = nnx.as_pure(state)

    def forward(state, images):
        return nnx.merge(graphdef, state)(images)

    rng, runs = np.random.default_rng(1), []
    for h, w in COMPILED[name]:
        images = rng.normal(size=(BATCH, h, w, 3)).astype(np.float32)
        with torch.no_grad():
            logits_t, features_t = net.logits_and_features(torch.from_numpy(
                images.transpose(0, 3, 1, 2)))
            weights_t = net.cam_weights(features_t).detach()
        logits, features = jax.jit(forward).lower(state, images).compile(FAST_COMPILE)(
            state, images)
        runs.append({"size": (h, w), "logits_t": logits_t, "features_t": features_t,
                     "weights_t": weights_t, "logits": np.asarray(logits),
                     "features": features})
    return {"name": name, "net": net, "model": model, "report": report, "runs": runs,
            "state_dict": net.state_dict()}


@pytest.mark.torch
def test_loads_whole_classifier_included(compared):
    report, names = compared["report"], list(compared["state_dict"])
    assert report.classifier_loaded and report.new == []
    assert sorted(report.loaded + report.skipped) == sorted(names)
    training_only = ("aux1.", "aux2.") if compared["name"] == "googlenet" else ()
    assert all(k.endswith("num_batches_tracked") or k.startswith(training_only)
               for k in report.skipped)


@pytest.mark.torch
def test_logits_and_features_match_pytorch(compared):
    channels, standard, _ = FEATURES[compared["name"]]
    for run in compared["runs"]:
        features_t = run["features_t"]
        assert run["features"].shape == (BATCH, *features_t.shape[2:], channels)
        if run is compared["runs"][0]:
            assert run["features"].shape[1:3] == standard
        assert_close(run["logits"], run["logits_t"].numpy())
        # the features themselves, NCHW -> NHWC (SqueezeNet's: its ReLU'd class maps)
        assert_close(run["features"], features_t.numpy().transpose(0, 2, 3, 1))


@pytest.mark.torch
def test_top5_cams_match_pytorch(compared):
    model = compared["model"]
    for run in compared["runs"]:
        top5 = torch.topk(run["logits_t"], 5).indices
        expected = torch_cams(run["features_t"], run["weights_t"], top5).numpy()
        weights = model.cam_weights(run["features"])
        assert_close(camjax_cams(run["features"], weights, top5.numpy()), expected)


@pytest.mark.torch
def test_classify_continues_from_the_features(compared):
    model = compared["model"]
    for run in compared["runs"]:
        assert_close(model.classify(run["features"]), run["logits"])


@pytest.mark.torch
def test_cam_spatial_mean_is_the_logit_less_a_constant(compared):
    # docs/models.md: for every class, the CAM's spatial mean is the logit less a constant
    # no image changes (the fc bias; 0 for SqueezeNet; W beta + b for ConvNeXt, whose
    # folded weights are per image). Checked on all classes, on both sides.
    net, model = compared["net"], compared["model"]
    with torch.no_grad():
        constant = net.cam_constant().detach().numpy()
    for run in compared["runs"]:
        logits_t, classes = run["logits_t"].numpy(), np.arange(1000)[None].repeat(BATCH, 0)
        with torch.no_grad():
            means_t = torch_cams(run["features_t"], run["weights_t"], classes).mean((2, 3))
        assert_close(means_t.numpy(), logits_t - constant)
        weights = model.cam_weights(run["features"])
        assert_close(camjax_cams(run["features"], weights, classes).mean((2, 3)),
                     logits_t - constant)


@pytest.mark.torch
def test_inception_v3_auxiliary_head_matches_pytorch(compared):
    """``AuxLogits`` (training only) was loaded too: same output on the same input."""
    if compared["name"] != "inception_v3":
        pytest.skip("only inception_v3 keeps its auxiliary head")
    x = np.random.default_rng(2).normal(size=(BATCH, 17, 17, 768)).astype(np.float32)
    with torch.no_grad():
        expected = compared["net"].AuxLogits(torch.from_numpy(x.transpose(0, 3, 1, 2)))
    assert_close(compared["model"].AuxLogits(x), expected.numpy())


def meta_reference(name, **kwargs):
    with torch.device("meta"):  # shapes only: convnext_large's 198M parameters cost nothing
        return BUILDERS[name](**kwargs)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_references_have_torchvisions_parameter_counts(name):
    # googlenet as torchvision returns it with its weights: aux1/aux2 dropped
    net = meta_reference(name, **({"aux_logits": False} if name == "googlenet" else {}))
    assert sum(p.numel() for p in net.parameters()) == PUBLISHED[name]


@pytest.mark.torch
def test_references_have_torchvisions_exact_state_dicts():
    tvm = _torchvision_models()  # skips where torchvision cannot be imported (here: always)
    options = {"googlenet": {"aux_logits": True, "init_weights": False},
               "inception_v3": {"aux_logits": True, "init_weights": False}}
    for name in PUBLISHED:
        with torch.device("meta"):
            theirs = getattr(tvm, name)(**options.get(name, {})).state_dict()
        ours = meta_reference(name).state_dict()
        assert list(ours) == list(theirs), name
        assert all(ours[k].shape == theirs[k].shape for k in ours), name


@pytest.mark.torch
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_the_file_looks_like_its_network(name):
    assert identify_architecture(meta_reference(name).state_dict()) == name


@pytest.mark.torch
def test_inception_v3_for_other_classes_keeps_both_classifiers_fresh():
    # a file fine-tuned to 10 classes into the 1000-class network: fc and AuxLogits.fc
    # (both as wide as the classes) keep their initialisation, all the rest loads
    state = {k: np.zeros((10, *v.shape[1:]) if k.startswith(("fc.", "AuxLogits.fc.")) else
                         v.shape, np.float32)
             for k, v in meta_reference("inception_v3").state_dict().items()}
    report = load_pretrained(nnx.merge(*nnx.split(network("inception_v3"))), state)
    assert not report.classifier_loaded
    assert sorted(report.new) == ["AuxLogits.fc.bias", "AuxLogits.fc.kernel",
                                  "head.classifier.bias", "head.classifier.kernel"]
    assert sorted(k for k in report.skipped if not k.endswith("num_batches_tracked")) == [
        "AuxLogits.fc.bias", "AuxLogits.fc.weight", "fc.bias", "fc.weight"]
