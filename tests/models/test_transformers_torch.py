"""Numerical equivalence of the vision transformers with PyTorch references written with
torchvision's (timm's for DeiT) module and parameter names (``torch_transformers``,
``torch_swin``): random weights, eval mode, the state dict saved as ``.safetensors`` and loaded
whole into camjax; logits, features (and Swin's top-5 CAMs) to 1e-4 of their scale at 224 and
at one non-square size (ViT/DeiT: position embeddings resampled on both sides, camjax by its
own matrices, the reference by ``F.interpolate``).

What is compiled, to stay within the test budget: each family ONCE per size, on a
reduced-depth configuration of the same code (``vit_b_32`` with ``num_layers=2``,
``deit_small_patch16_224`` with ``depth=2``, ``swin_t`` with ``depths=(2, 2, 2, 2)``: every
stage keeps a plain and a shifted block). The full-depth layouts (all eight networks) are
checked without memory or compiling: the references built on torch's ``meta`` device give
every state-dict name and shape, and each must map onto a camjax parameter of the right
shape, covering all of them (what ``load_pretrained`` does, less the copy).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from camjax.models import load_pretrained
from camjax.models.pos_embed import align_corners_matrix, antialias_matrix
from camjax.models.pretrained import variable_paths

from .test_transformers import PUBLISHED, transformer
from .test_zoo import FAST_COMPILE, abstract

torch = pytest.importorskip("torch", reason="PyTorch is needed for the numerical comparison "
                                            "with torchvision's and timm's transformers")
from safetensors.torch import save_file  # noqa: E402  (needs torch)

from . import torch_swin, torch_transformers as ref  # noqa: E402

TOLERANCE = 1e-4
REDUCED = {"vit_b_32": {"num_layers": 2}, "deit_small_patch16_224": {"depth": 2},
           "swin_t": {"depths": (2, 2, 2, 2)}}
# (batch, height, width): the native size, then a non-square one (ViT-B/32: 5x8 patches,
# DeiT: 12x8, resampled down and up; Swin: 7x8 in the last stage, padded to 7x14 there)
SIZES = {"vit_b_32": ((2, 224, 224), (1, 160, 256)),
         "deit_small_patch16_224": ((2, 224, 224), (1, 192, 128)),
         "swin_t": ((2, 224, 224), (1, 224, 256))}


def reference(name, meta=False, **options):
    if name in torch_swin.SWINS:
        build = functools.partial(torch_swin.SwinTransformer, name, options.get("depths"))
    elif name in ref.DEITS:
        build = functools.partial(ref.DeiT, name, options.get("depth"))
    else:
        build = functools.partial(ref.VisionTransformer, name, options.get("num_layers"),
                                  options.get("image_size", 224))
    if meta:
        with torch.device("meta"):
            return build()
    return build()


def randomize(net, seed=0):
    """Every parameter random (LayerNorm scales and biases, tokens, position embeddings and
    bias tables too, so none of them can be mis-loaded unnoticed); eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("token", "pos_embedding", "pos_embed", "bias_table")):
                p.normal_(0, 0.5, generator=gen)
            elif p.ndim >= 2:  # conv / linear / in_proj: He-like in the fan-in
                p.normal_(0, p[0].numel() ** -0.5, generator=gen)
            elif name.endswith("weight"):  # LayerNorm scales
                p.uniform_(0.5, 1.5, generator=gen)
            else:
                p.normal_(0, 0.1, generator=gen)
    return net.eval()


def assert_close(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 1e-3
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE * scale)


def loaded(name, tmp_path, seed=0):
    """(torch reference, camjax model filled from its safetensors file), reduced depth."""
    torch.manual_seed(seed)
    net = randomize(reference(name, **REDUCED[name]), seed)
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    model = abstract(name, **REDUCED[name])
    report = load_pretrained(model, path)
    assert report.classifier_loaded and report.new == []
    assert sorted(report.loaded + report.skipped) == sorted(net.state_dict())
    assert all(k.endswith("relative_position_index") for k in report.skipped)
    return net, model


def compiled_forward(model, images):
    graphdef, state = nnx.split(model)
    state = nnx.as_pure(state)

    def forward(state, images):
        return nnx.merge(graphdef, state)(images)

    return jax.jit(forward).lower(state, images).compile(FAST_COMPILE)(state, images)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(REDUCED))
def test_logits_and_features_match_pytorch(name, tmp_path):
    net, model = loaded(name, tmp_path)
    rng = np.random.default_rng(1)
    for batch, h, w in SIZES[name]:
        images = rng.normal(size=(batch, h, w, 3)).astype(np.float32)
        with torch.no_grad():
            expected_logits, expected_features = net.logits_and_features(
                torch.from_numpy(images.transpose(0, 3, 1, 2)))
            if name == "swin_t":  # NCHW -> NHWC; the torch side's top-5 CAMs, by einsum
                expected_features = expected_features.permute(0, 2, 3, 1)
                top5 = torch.topk(expected_logits, 5).indices
                maps = torch.einsum("bhwk,ck->bchw", expected_features, net.classifier_weight)
                expected_cams = torch.stack([maps[b, top5[b]] for b in range(batch)])
        logits, features = compiled_forward(model, images)
        assert_close(logits, expected_logits.numpy())
        if name == "swin_t":  # the CAM is exact: the top-5 maps are the torch side's
            cams = jnp.einsum("bhwk,kc->bchw", features, model.cam_weights(features))
            cams = np.stack([np.asarray(cams)[b, top5[b].numpy()] for b in range(batch)])
            assert_close(cams, expected_cams.numpy())
            # logits = mean of the CAM + the head's bias, for every class
            np.testing.assert_allclose(
                np.asarray(jnp.einsum("bhwk,kc->bc", features, model.cam_weights(features))
                           / (features.shape[1] * features.shape[2]) + model.head.bias[...]),
                np.asarray(logits), atol=TOLERANCE * np.abs(logits).max())
        assert_close(features, expected_features.numpy())


class Shifted(nnx.Module):
    """A layer's output plus ``delta``: the gradient with respect to ``delta`` is the
    gradient with respect to that layer's output (what a Grad-CAM engine computes)."""

    def __init__(self, inner, delta):
        self.inner, self.delta = inner, nnx.data(delta)

    def __call__(self, x):
        return self.inner(x) + self.delta


@pytest.mark.torch
def test_vit_gradient_at_the_features_layer_matches_pytorch_hooks(tmp_path):
    # the Grad-CAM inputs at encoder_layer_{last}.ln_1, as pytorch-grad-cam users get them
    # (forward hook, class token dropped, reshaped), against camjax's to_grid of a
    # perturbation at the same NNX path
    name = "vit_b_32"
    net, model = loaded(name, tmp_path, seed=2)
    images = np.random.default_rng(3).normal(size=(2, 224, 224, 3)).astype(np.float32)
    classes = np.array([3, 917])
    act_t, grad_t, logits_t = ref.activation_and_gradient(
        net, torch.from_numpy(images.transpose(0, 3, 1, 2)), net.features_layer, classes)
    graphdef, state = nnx.split(model)
    tokens = (2, 1 + 7 * 7, 768)

    def score(delta, state):
        m = nnx.merge(graphdef, state)
        block = m.encoder.layers.encoder_layer_1
        assert m.features_layer == "encoder.layers.encoder_layer_1.ln_1"
        block.ln_1 = Shifted(block.ln_1, delta)
        logits, features = m(images)
        return logits[jnp.arange(2), classes].sum(), (features, logits)

    grad_fn = jax.jit(jax.grad(score, has_aux=True)).lower(
        jnp.zeros(tokens), nnx.as_pure(state)).compile(FAST_COMPILE)
    grads, (features, logits) = grad_fn(jnp.zeros(tokens), nnx.as_pure(state))
    assert_close(logits, logits_t.numpy())
    assert_close(features, act_t.numpy())
    assert_close(model.to_grid(grads, images.shape), grad_t.numpy())
    assert np.abs(np.asarray(grads)[:, 1:]).min(axis=-1).max() > 0  # patch tokens matter


@pytest.mark.torch
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_full_depth_state_dicts_map_onto_every_parameter(name):
    net = reference(name, meta=True)  # names and shapes only: no memory
    params = sum(p.numel() for p in net.parameters())
    assert params == PUBLISHED[name]  # the reference itself is the published network
    model = transformer(name)
    paths = variable_paths(model)
    variables = dict(nnx.to_flat_state(nnx.state(model, nnx.Param)))
    filled = set()
    for key, tensor in net.state_dict().items():
        path = model.torch_path(key, paths)
        if path is None:
            assert key.endswith("relative_position_index")
            continue
        value = model.from_torch(key, np.broadcast_to(np.float32(0), tuple(tensor.shape)))
        assert value.shape == variables[path].shape, key
        filled.add(path)
    assert filled == set(variables)


@pytest.mark.torch
@pytest.mark.parametrize("old, new", [(14, (10, 14)), (7, (5, 8)), (14, (12, 8)),
                                      (14, (24, 20)), (7, (3, 28)), (24, (14, 14))])
def test_pos_embed_matrices_are_torch_interpolate(old, new):
    # timm's resample_abs_pos_embed (bicubic, antialias) and torchvision's
    # interpolate_embeddings (bicubic, align_corners=True), per axis
    grid = np.random.default_rng(0).normal(size=(old, old, 5))
    x = torch.from_numpy(grid).permute(2, 0, 1)[None]
    for matrix, kwargs in [(antialias_matrix, {"antialias": True}),
                           (align_corners_matrix, {"align_corners": True})]:
        expected = torch.nn.functional.interpolate(x, size=new, mode="bicubic", **kwargs)
        got = np.einsum("ih,hwd,jw->ijd", matrix(old, new[0]), grid, matrix(old, new[1]))
        np.testing.assert_allclose(got, expected[0].permute(1, 2, 0).numpy(), atol=1e-10)


def zeros_like_state(net):
    return {k: np.broadcast_to(np.float32(0), tuple(v.shape)) for k, v in net.state_dict().items()}


@pytest.mark.torch
@pytest.mark.parametrize("file, options, into, message", [
    ("deit_base_patch16_224", {}, "deit_small_patch16_224",
     r"^'cls_token': shape \(1, 1, 768\) in the file.*expects \(1, 1, 384\).*looks like "
     r"deit_base_patch16_224 \(or timm's vit_base_patch16_224, the same layout\)$"),
    ("swin_t", {}, "swin_s", r"no weights for 'features\.5\.\d+\..*looks like swin_t$"),
    ("vit_b_32", {}, "vit_b_16", r"^'conv_proj\.weight': shape \(768, 3, 32, 32\).*looks like "
                                 r"vit_b_32$"),
    # torchvision's SWAG E2E weights were fine-tuned at 384: the model needs image_size=384
    ("vit_b_16", {"image_size": 384}, "vit_b_16",
     r"'encoder\.pos_embedding': shape \(1, 577, 768\) in the file.*expects \(1, 197, 768\)"
     r".*looks like vit_b_16 at 384 \(image_size=384\)$"),
])
def test_a_file_of_another_transformer_is_named(file, options, into, message):
    state = zeros_like_state(reference(file, meta=True, **options))
    with pytest.raises(ValueError, match=message):
        load_pretrained(transformer(into), state)


@pytest.mark.torch
def test_deit_release_checkpoint_loads_as_it_is(tmp_path):
    # facebookresearch/deit's .pth files hold {"model": state_dict}
    torch.manual_seed(0)
    net = randomize(reference("deit_small_patch16_224", depth=1))
    torch.save({"model": net.state_dict()}, tmp_path / "deit.pth")
    model = abstract("deit_small_patch16_224", depth=1)
    report = load_pretrained(model, tmp_path / "deit.pth")
    assert report.classifier_loaded and report.new == [] and report.skipped == []
    np.testing.assert_array_equal(model.blocks[0].attn.qkv.kernel[...],
                                  net.blocks[0].attn.qkv.weight.detach().numpy().T)
    np.testing.assert_array_equal(model.pos_embed[...], net.pos_embed.detach().numpy())
