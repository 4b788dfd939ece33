"""torchvision's ResNeXt, EfficientNet (V1, V2), RegNet (X, Y), MNASNet and MobileNetV3
against plain-PyTorch references with torchvision's exact names (``torch_mobile``,
``torch_resnets``): the smallest network of each family, random weights, random BatchNorm
statistics and affine parameters, eval mode, saved as ``.safetensors`` and loaded whole
into camjax; logits and the CAMs of the top-5 classes (the torch side's from its own final
features and classifier, by einsum) agree to 1e-4 of their scale at 224 and at 200x168.
MobileNetV3: logits only, its CAM is refused. Every network is compiled once per input
size (batch 2), and that one forward gives both the logits and the CAMs.

The references themselves are checked: their parameter counts (built on torch's meta
device, every size) equal torchvision's published ones, RegNet's width arithmetic equals
torchvision's torch-op version, and each reference state dict is recognised by
``identify_architecture``.
"""
from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from flax import nnx

from camjax.cam import class_activation_maps
from camjax.errors import ModelError
from camjax.models import class_weights, load_pretrained
from camjax.models.identify import identify_architecture
from camjax.models.regnet import REGNETS, block_params

from .test_torchvision_families import PUBLISHED, network

torch = pytest.importorskip("torch", reason="PyTorch is needed for the numerical comparison "
                                            "with torchvision's networks")
from safetensors.torch import save_file  # noqa: E402  (needs torch)

from . import torch_mobile, torch_resnets  # noqa: E402
from .test_classifiers_torch import assert_close, fill_abstract_rest, torch_cams  # noqa: E402
from .test_zoo import FAST_COMPILE  # noqa: E402
from .torch_reference import randomize_batchnorm  # noqa: E402

# one xdist worker runs both files: each network is built and compiled once
pytestmark = [pytest.mark.torch, pytest.mark.xdist_group("torchvision_families")]
BUILDERS = {**torch_mobile.BUILDERS, **torch_resnets.BUILDERS}
SMALLEST = ("resnext50_32x4d", "efficientnet_b0", "efficientnet_v2_s", "regnet_y_400mf",
            "regnet_x_400mf", "mnasnet0_5", "mobilenet_v3_small")
NO_EXACT_CAM = ("mobilenet_v3_small",)
SIZES = ((224, 224), (200, 168))  # 200x168: odd map sizes on the way, 7x6 at the end


def random_reference(name):
    """The torch reference with random weights whose outputs depend on the image.

    Conv weights N(0, 1 / fan_in), conv biases U(-0.5, 0.5), BatchNorm affine parameters
    random (``randomize_batchnorm``'s ranges; halved at the end of the residual branches of
    the mobile blocks); BatchNorm statistics measured on two random images at 224 (one pass
    in train mode), then perturbed (means shifted by N(0, 0.1) standard deviations,
    variances scaled by exp(U(-0.2, 0.2))); eval mode. Statistics drawn independently of the
    activations (``randomize_batchnorm`` alone) leave these deep SiLU / Hardswish networks
    with logits that hardly depend on the image, or, with larger weights, saturated
    squeeze-and-excitation gates that amplify float32 rounding past 1e-4.
    """
    torch.manual_seed(0)
    net = BUILDERS[name]()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="linear")
                if m.bias is not None:
                    torch.nn.init.uniform_(m.bias, -0.5, 0.5)
        randomize_batchnorm(net)  # random affine parameters; the statistics are set below
        for block in net.modules():  # residual branches damped, as in trained networks
            if getattr(block, "use_res_connect", False) or getattr(block, "apply_residual", 0):
                last = [m for m in block.modules() if isinstance(m, torch.nn.BatchNorm2d)][-1]
                last.weight.mul_(0.5)
                last.bias.mul_(0.5)
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: the statistics of this one batch
        net.train()(torch.randn(2, 3, 224, 224))
        for m in norms:
            m.momentum = 0.1
            m.running_mean.add_(0.1 * m.running_var.sqrt() * torch.randn(m.num_features))
            m.running_var.mul_(torch.exp(0.4 * torch.rand(m.num_features) - 0.2))
    return net.eval()


@pytest.fixture(scope="module", params=SMALLEST)
def compared(request, tmp_path_factory):
    """Everything the tests below look at, computed once per network."""
    name = request.param
    net = random_reference(name)
    state_dict = net.state_dict()
    path = tmp_path_factory.mktemp(name) / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
    model = nnx.merge(*nnx.split(network(name)))  # a copy of the cached abstract network
    report = load_pretrained(model, path)
    model = fill_abstract_rest(model)
    model.eval()
    graphdef, state = nnx.split(model)
    state = nnx.as_pure(state)

    def forward(state, images):
        return nnx.merge(graphdef, state)(images)

    rng, runs = np.random.default_rng(1), []
    for h, w in SIZES:
        images = rng.normal(size=(2, h, w, 3)).astype(np.float32)
        with torch.no_grad():
            logits_t, features_t = net.logits_and_features(
                torch.from_numpy(images.transpose(0, 3, 1, 2)))
            top5 = torch.topk(logits_t, 5).indices
            cams_t = (None if name in NO_EXACT_CAM else
                      torch_cams(features_t, net.classifier_weight, top5).numpy())
        logits, features = jax.jit(forward).lower(state, images).compile(FAST_COMPILE)(
            state, images)
        runs.append({"size": (h, w), "logits": (logits, logits_t.numpy()),
                     "features": features, "features_t": features_t, "top5": top5.numpy(),
                     "cams_t": cams_t})
    return {"name": name, "model": model, "report": report, "state_dict": state_dict,
            "runs": runs}


def test_loads_whole_classifier_included(compared):
    report, state_dict = compared["report"], compared["state_dict"]
    assert report.classifier_loaded and report.new == []
    assert sorted(report.loaded + report.skipped) == sorted(state_dict)
    assert all(k.endswith("num_batches_tracked") for k in report.skipped)


def test_logits_match_pytorch(compared):
    for run in compared["runs"]:
        features, features_t = run["features"], run["features_t"]
        assert features.shape == (2, *features_t.shape[2:], features_t.shape[1])
        assert features.shape[1:3] == {(224, 224): (7, 7), (200, 168): (7, 6)}[run["size"]]
        assert_close(*run["logits"])
        expected = run["logits"][1]  # the two images give different logits: not biases alone
        assert np.abs(expected[0] - expected[1]).max() > 0.05 * np.abs(expected).max()


def test_top5_cams_match_pytorch(compared):
    model = compared["model"]
    if compared["name"] in NO_EXACT_CAM:
        with pytest.raises(ModelError, match="no exact CAM"):
            model.cam_weights(compared["runs"][0]["features"])
        return
    weights = (model.cam_weights(None) if hasattr(model, "cam_weights")
               else class_weights(model))  # ResNeXt: ResNet's head
    for run in compared["runs"]:
        cams = class_activation_maps(run["features"], weights, run["top5"])
        assert_close(cams, run["cams_t"])


@functools.lru_cache(maxsize=None)
def meta_reference(name):
    with torch.device("meta"):  # shapes only: regnet_y_128gf has 645M parameters
        return BUILDERS[name]()


def test_references_have_torchvisions_parameter_counts():
    counts = {name: sum(p.numel() for p in meta_reference(name).parameters())
              for name in PUBLISHED}
    assert counts == PUBLISHED


def test_regnet_widths_equal_torchvisions_torch_arithmetic():
    for name, (depth, w_0, w_a, w_m, group_width, _) in REGNETS.items():
        expected = torch_resnets.regnet_block_params(depth, w_0, w_a, w_m, group_width)
        assert tuple(map(list, block_params(depth, w_0, w_a, w_m, group_width))) == \
            tuple(map(list, expected)), name


def _names_and_shapes(name):
    """The reference's state dict as shapes without memory."""
    return {k: np.broadcast_to(np.float32(0), tuple(v.shape))
            for k, v in meta_reference(name).state_dict().items()}


def test_identify_recognises_every_reference():
    guesses = {name: identify_architecture(_names_and_shapes(name)) for name in PUBLISHED}
    assert guesses == {name: name for name in PUBLISHED}


def test_a_file_of_another_size_names_it():
    # nothing is changed when a file does not fit, so the cached networks can be used
    with pytest.raises(ValueError, match=r"looks like efficientnet_b1$"):
        load_pretrained(network("efficientnet_b0"), _names_and_shapes("efficientnet_b1"))
    with pytest.raises(ValueError, match=r"looks like regnet_x_800mf$"):
        load_pretrained(network("regnet_x_400mf"), _names_and_shapes("regnet_x_800mf"))
