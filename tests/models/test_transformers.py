"""The vision transformers (torchvision's ViT and Swin, timm's DeiT) without torch: parameter
counts against the published numbers and the mapping resolution (``nnx.eval_shape``, no
compile), the token grid against a hand reshape, torch names that resolve as attribute paths,
Swin's window bookkeeping against brute force, the no-CAM error, bad options, which network a
state dict holds."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax.errors import ModelError
from camjax.models import parameter_count
from camjax.models.identify import identify_architecture
from camjax.models.swin import relative_position_index, shift_mask
from tests.random_weights import fill

from .test_zoo import FAST_COMPILE, abstract

# torchvision's Weights.DEFAULT meta["num_params"]; timm's DeiT counts
PUBLISHED = {"vit_b_16": 86_567_656, "vit_b_32": 88_224_232, "vit_l_16": 304_326_632,
             "deit_small_patch16_224": 22_050_664, "deit_base_patch16_224": 86_567_656,
             "swin_t": 28_288_354, "swin_s": 49_606_258, "swin_b": 87_768_224}
# name: (features at 224 (h, w, K), features_layer, imagenet_eval)
FEATURES = {
    "vit_b_16": ((14, 14, 768), "encoder.layers.encoder_layer_11.ln_1", (256, 224, "bilinear")),
    "vit_b_32": ((7, 7, 768), "encoder.layers.encoder_layer_11.ln_1", (256, 224, "bilinear")),
    "vit_l_16": ((14, 14, 1024), "encoder.layers.encoder_layer_23.ln_1",
                 (242, 224, "bilinear")),
    "deit_small_patch16_224": ((14, 14, 384), "blocks.11.norm1", (248, 224, "bicubic")),
    "deit_base_patch16_224": ((14, 14, 768), "blocks.11.norm1", (248, 224, "bicubic")),
    "swin_t": ((7, 7, 768), "norm", (232, 224, "bicubic")),
    "swin_s": ((7, 7, 768), "norm", (246, 224, "bicubic")),
    "swin_b": ((7, 7, 1024), "norm", (238, 224, "bicubic"))}


@functools.lru_cache(maxsize=None)
def transformer(name):
    """Abstract (shapes only), built once per test process."""
    return abstract(name)


def shapes(model, h, w, batch=1):
    images = jax.ShapeDtypeStruct((batch, h, w, 3), jnp.float32)
    logits, features = nnx.eval_shape(lambda m, x: m(x), model, images)
    return logits.shape, features.shape


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_parameter_count_is_published(name):
    assert parameter_count(transformer(name)) == PUBLISHED[name]


@pytest.mark.parametrize("name", list(FEATURES))
def test_features_layer_resolution_and_eval_transform(name):
    model = transformer(name)
    grid, layer, imagenet_eval = FEATURES[name]
    assert (model.arch, model.features_layer, model.imagenet_eval) == (name, layer,
                                                                      imagenet_eval)
    assert model.torchvision_head
    assert shapes(model, 224, 224) == ((1, 1000), (1, *grid))
    assert hash(nnx.split(model)[0])  # static attributes hash: nnx.jit can cache on them


@pytest.mark.parametrize("name, hw, grid", [
    ("vit_b_16", (160, 256), (10, 16)),   # position embeddings resampled to 10x16
    ("vit_b_32", (200, 168), (6, 5)),     # a remainder < 32 px is dropped by the patch conv
    ("deit_small_patch16_224", (384, 384), (24, 24)),
    ("swin_t", (224, 256), (7, 8)),
    ("swin_t", (200, 232), (7, 8)),       # odd grids padded in patch merging: 50x58 -> 7x8
])
def test_other_input_sizes(name, hw, grid):
    assert shapes(transformer(name), *hw)[1][1:3] == grid


def test_image_size_sets_the_native_grid_of_the_position_embeddings():
    # torchvision's image_size (e.g. 384 for the SWAG E2E weights): 12 x 12 patches of 32
    small, big = (abstract("vit_b_32", num_layers=1, **kw) for kw in ({}, {"image_size": 384}))
    assert big.encoder.pos_embedding.shape == (1, 1 + 12 * 12, 768)
    assert parameter_count(big) - parameter_count(small) == (12 * 12 - 7 * 7) * 768
    assert shapes(big, 384, 384)[1] == (1, 12, 12, 768)


def test_to_grid_is_the_hand_reshape():
    model = transformer("vit_b_16")
    tokens = np.random.default_rng(0).normal(size=(2, 1 + 5 * 8, 3)).astype(np.float32)
    grid = np.asarray(model.to_grid(jnp.asarray(tokens), (2, 80, 128, 3)))
    assert grid.shape == (2, 5, 8, 3)
    for b in range(2):
        for i in range(5):
            for j in range(8):  # token 0 is the class token; then row after row
                np.testing.assert_array_equal(grid[b, i, j], tokens[b, 1 + i * 8 + j])
    np.testing.assert_array_equal(model.to_grid(jnp.asarray(tokens), (80, 128)), grid)
    conv_out = jnp.ones((2, 5, 8, 3))  # conv_proj's output is a grid already
    assert model.to_grid(conv_out, (80, 128)) is conv_out
    with pytest.raises(ModelError, match=r"1 \+ 5\*9.*shape \(2, 41, 3\)"):
        model.to_grid(jnp.asarray(tokens), (80, 144))
    swin = transformer("swin_t")
    assert swin.to_grid(conv_out, (20, 32)) is conv_out


def walk(model, path):
    """A torch ``named_modules()`` path resolved by attributes (integers index)."""
    for part in path.split("."):
        model = model[int(part)] if part.isdigit() else getattr(model, part)
    return model


@pytest.mark.parametrize("name, path, kind", [
    ("vit_b_16", "conv_proj", nnx.Conv),
    ("vit_b_16", "encoder.layers.encoder_layer_6", None),
    ("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", nnx.LayerNorm),
    ("vit_b_16", "encoder.layers.encoder_layer_3.self_attention.out_proj", nnx.Linear),
    ("vit_b_16", "encoder.layers.encoder_layer_3.mlp.3", nnx.Linear),
    ("vit_b_16", "encoder.ln", nnx.LayerNorm),
    ("vit_b_16", "heads.head", nnx.Linear),
    ("deit_small_patch16_224", "patch_embed.proj", nnx.Conv),
    ("deit_small_patch16_224", "blocks.11.norm1", nnx.LayerNorm),
    ("deit_small_patch16_224", "blocks.2.attn.qkv", nnx.Linear),
    ("deit_small_patch16_224", "blocks.2.mlp.fc2", nnx.Linear),
    ("swin_t", "features.0.0", nnx.Conv),
    ("swin_t", "features.0.2", nnx.LayerNorm),
    ("swin_t", "features.5.3.attn.proj", nnx.Linear),
    ("swin_t", "features.6.reduction", nnx.Linear),
    ("swin_t", "norm", nnx.LayerNorm),
    ("swin_t", "head", nnx.Linear),
])
def test_torch_module_paths_resolve(name, path, kind):
    module = walk(transformer(name), path)
    assert isinstance(module, kind or nnx.Module)


def test_aliases_name_the_layers_with_torchs_outputs():
    # torchvision's ``encoder`` returns encoder.ln's output; ``encoder.layers`` the last
    # block's; timm's ``blocks`` its last block's
    assert transformer("vit_b_16").layer_aliases == {
        "encoder": "encoder.ln", "encoder.layers": "encoder.layers.encoder_layer_11"}
    assert transformer("deit_base_patch16_224").layer_aliases == {"blocks": "blocks.11"}


def test_relative_position_index_by_brute_force():
    window = 7
    index = relative_position_index(window)
    for i in range(window * window):
        for j in range(window * window):
            (yi, xi), (yj, xj) = divmod(i, window), divmod(j, window)
            assert index[i, j] == (yi - yj + 6) * 13 + (xi - xj + 6)
    assert index.max() == 13 * 13 - 1


def torchvision_mask(ph, pw, ws, sh, sw):
    """torchvision's construction: label the padded grid by slices, compare per window."""
    labels, count = np.zeros((ph, pw)), 0
    for h in ((0, -ws), (-ws, -sh), (-sh, None)):
        for w in ((0, -ws), (-ws, -sw), (-sw, None)):
            labels[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    windows = labels.reshape(ph // ws, ws, pw // ws, ws).transpose(0, 2, 1, 3).reshape(
        -1, ws * ws)
    return np.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0)


@pytest.mark.parametrize("ph, pw, sh, sw", [(56, 56, 3, 3), (14, 21, 3, 3), (7, 14, 0, 3),
                                            (14, 7, 3, 0), (28, 35, 3, 3)])
def test_shift_mask_is_torchvisions(ph, pw, sh, sw):
    np.testing.assert_array_equal(shift_mask(ph, pw, 7, sh, sw),
                                  torchvision_mask(ph, pw, 7, sh, sw))


@pytest.mark.parametrize("name", ["vit_b_16", "deit_small_patch16_224"])
def test_vits_have_no_exact_cam(name):
    model = transformer(name)
    with pytest.raises(ModelError, match="no exact CAM.*class token.*grad_cam.*"
                                         + model.features_layer.replace(".", r"\.")):
        model.cam_weights(jnp.zeros((1, 14, 14, 384)))


def test_swin_cam_weights_are_the_head():
    model = fill(abstract("swin_t", num_classes=3, depths=(1, 1, 1, 1)))
    np.testing.assert_array_equal(model.cam_weights(jnp.zeros((1, 7, 7, 768))),
                                  model.head.kernel[...])
    assert model.cam_weights(jnp.zeros((1, 7, 7, 768))).shape == (768, 3)


@pytest.mark.parametrize("name, options, match", [
    ("vit_b_16", {"pooling": "gmp"}, "class token"),
    ("deit_small_patch16_224", {"pooling": "gmp"}, "class token"),
    ("swin_t", {"pooling": "gmp"}, "averages its tokens"),
    ("vit_b_16", {"image_size": 200}, "multiple of the patch size 16"),
    ("vit_b_32", {"pos_embed_resize": "nearest"}, "pos_embed_resize"),
    ("swin_s", {"depths": (2, 2, 0, 2)}, "depths"),
])
def test_bad_options_name_themselves(name, options, match):
    with pytest.raises(ModelError, match=match):
        camjax.models.create(name, num_classes=10, rngs=nnx.Rngs(0), **options)


def test_forward_attention_gives_each_blocks_weights_and_the_same_logits():
    model = fill(abstract("deit_small_patch16_224", num_classes=5, depth=2), head_std=0.5)
    images = np.random.default_rng(0).normal(size=(1, 48, 32, 3)).astype(np.float32)
    graphdef, state = nnx.split(model)

    def both(state, images):
        m = nnx.merge(graphdef, state)
        return m(images)[0], m.forward_attention(images)

    (logits, (logits_again, tokens, weights)) = jax.jit(both).lower(
        nnx.as_pure(state), images).compile(FAST_COMPILE)(nnx.as_pure(state), images)
    np.testing.assert_allclose(logits_again, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(  # the head reads the class token of the final tokens
        np.asarray(tokens)[:, 0] @ np.asarray(model.head.kernel[...]) + model.head.bias[...],
        logits, rtol=1e-4, atol=1e-5)
    assert tokens.shape == (1, 1 + 3 * 2, 384)
    assert [w.shape for w in weights] == [(1, 6, 1 + 3 * 2, 1 + 3 * 2)] * 2
    np.testing.assert_allclose(np.asarray(weights[1]).sum(-1), 1.0, rtol=1e-5)


def zeros(shape):
    return np.broadcast_to(np.float32(0), shape)


def vit_names(patch, layers, dim, tokens=197):
    state = {"conv_proj.weight": zeros((dim, 3, patch, patch)),
             "encoder.pos_embedding": zeros((1, tokens, dim))}
    state.update({f"encoder.layers.encoder_layer_{i}.ln_1.weight": zeros((dim,))
                  for i in range(layers)})
    return state


def timm_vit_names(dim, depth, extra=()):
    state = {"patch_embed.proj.weight": zeros((dim, 3, 16, 16)), **{k: zeros((1,)) for k in extra}}
    state.update({f"blocks.{i}.attn.qkv.weight": zeros((3 * dim, dim)) for i in range(depth)})
    return state


def swin_names(dim, depths, v2=False):
    state = {"features.0.0.weight": zeros((dim, 3, 4, 4))}
    for stage, depth in zip((1, 3, 5, 7), depths):
        for i in range(depth):
            leaf = "cpb_mlp.0.weight" if v2 else "relative_position_bias_table"
            state[f"features.{stage}.{i}.attn.{leaf}"] = zeros((169, 3))
    return state


@pytest.mark.parametrize("state, expected", [
    (vit_names(16, 12, 768), "vit_b_16"),
    (vit_names(32, 12, 768, 50), "vit_b_32"),
    (vit_names(16, 24, 1024), "vit_l_16"),
    (vit_names(16, 12, 768, 577), "vit_b_16 at 384 (image_size=384)"),
    (vit_names(14, 32, 1280, 1370), "vit_h_14"),
    (timm_vit_names(384, 12), "deit_small_patch16_224"),
    (timm_vit_names(768, 12), "deit_base_patch16_224"),
    (timm_vit_names(192, 12), "a timm ViT with width 192"),
    (timm_vit_names(384, 12, ("dist_token",)), "a distilled DeiT"),
    (swin_names(96, (2, 2, 6, 2)), "swin_t"),
    (swin_names(96, (2, 2, 18, 2)), "swin_s"),
    (swin_names(128, (2, 2, 18, 2)), "swin_b"),
    (swin_names(96, (2, 2, 6, 2), v2=True), "a Swin V2"),
])
def test_identify_transformers(state, expected):
    assert identify_architecture(state).startswith(expected)
