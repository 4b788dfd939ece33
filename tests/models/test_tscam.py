"""TS-CAM on DeiT (``wsol_method="tscam"``) against a plain-PyTorch transcription of the
authors' code (vasgaowei/TS-CAM ``lib/models/deit.py`` class ``TSCAM`` and the
``Attention`` / ``Block`` of its ``lib/models/vision_transformer.py``), loaded from the
transcription's state dict saved as their training script saves it: the logits, the
semantic-aware maps of the conv head, the attention map (which blocks, heads, row,
reshape), the final maps and the training loss, on a tiny DeiT. The paper-size network by
shapes only."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax.models import load_pretrained, parameter_count
from camjax.models.wsol import tscam
from camjax.training import wsol
from tests.random_weights import fill

TINY = dict(depth=2, embed_dim=32, num_heads=2, patch_size=8, image_size=32)
CLASSES = 5


def create(num_classes=CLASSES, seed=0, **options):
    return camjax.models.create("deit_small_patch16_224", num_classes=num_classes,
                                rngs=nnx.Rngs(seed), wsol_method="tscam", **options)


def test_attention_map_is_the_class_tokens_row_summed_over_blocks():
    """Random (not even softmax) weights of 3 blocks, 4 heads, a 2 x 3 grid: the authors'
    ``torch.stack(w).mean(2).sum(0)[:, 0, 1:].reshape(n, h, w)`` written in numpy."""
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(2, 4, 7, 7)).astype(np.float32) for _ in range(3)]
    expected = np.stack(weights).mean(axis=2).sum(axis=0)[:, 0, 1:].reshape(2, 2, 3)
    got = tscam.attention_map([jnp.asarray(w) for w in weights], (2, 3))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    maps = rng.normal(size=(2, 2, 3, 4)).astype(np.float32)
    coupled = tscam.coupled(got, jnp.asarray(maps))
    classes = np.array([[3, 0], [1, 1]])
    picked = tscam.pick(coupled, jnp.asarray(classes))
    for b in range(2):
        for j, c in enumerate(classes[b]):
            np.testing.assert_allclose(picked[b, j], expected[b] * maps[b, ..., c],
                                       rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def reference():
    """The authors' TSCAM in torch at the tiny size, random weights."""
    torch = pytest.importorskip("torch")
    from tests.models.torch_tscam import TSCAM
    torch.manual_seed(0)
    net = TSCAM(dim=32, depth=2, heads=2, patch=8, image=32, num_classes=CLASSES)
    with torch.no_grad():
        for name, p in net.named_parameters():
            norm_scale = name.endswith("weight") and p.ndim == 1     # LayerNorm weights
            p.copy_(torch.randn_like(p) * 0.1 + (1.0 if norm_scale else 0.0))
    return net.eval()


def abstract(**options):
    """The model with shapes only, then filled from numpy (nothing compiled)."""
    return fill(nnx.eval_shape(lambda: create(**options)))


@pytest.fixture(scope="module")
def tiny(reference, tmp_path_factory):
    """camjax's TS-CAM (with stochastic depth 0.5 on its second block) loaded from the
    transcription's state dict saved as the authors' train_cam.py saves a checkpoint
    (``{"epoch", "state_dict", "best_map"}``, DataParallel's ``module.`` names), and the
    report of that load."""
    torch = pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("tscam") / "model_epoch60.pth"
    torch.save({"epoch": 60, "state_dict": {f"module.{k}": v for k, v in
                                            reference.state_dict().items()},
                "best_map": 0.5}, path)
    model = abstract(drop_path_rate=0.5, **TINY)
    return model, load_pretrained(model, path)


X = np.random.default_rng(1).normal(size=(8, 32, 32, 3)).astype(np.float32)
LABELS = np.array([0, 3, 4, 1, 2, 2, 0, 4], np.int32)
MAP_CLASSES = np.array([[0, 4], [2, 2], [3, 1], [1, 0], [4, 4], [0, 1], [2, 3], [3, 0]])


@pytest.fixture(scope="module")
def outputs(tiny):
    """Everything camjax computes, in one compile: TS-CAM's outputs, the features, the
    engine's ``cam`` maps and the loss in eval mode, the logits in training mode."""
    model, _ = tiny
    model.train()
    train_graphdef, state = nnx.split(model)
    model.eval()
    eval_graphdef = nnx.graphdef(model)
    method, batch = wsol.Method(name="tscam"), {"label": jnp.asarray(LABELS)}

    @jax.jit
    def run(state, x, classes):
        net = nnx.merge(eval_graphdef, state)
        logits, semantic, attention = net.tscam_outputs(x)
        loss, _ = wsol.loss(method, net, x, batch, None)
        maps = camjax.methods.registry.get("cam").pure(eval_graphdef, state, x, classes)
        _, train_logits = wsol.loss(method, nnx.merge(train_graphdef, state), x, batch, None)
        return dict(logits=logits, semantic=semantic, attention=attention, loss=loss,
                    features=net(x)[1], maps=maps, train_logits=train_logits)
    return jax.tree.map(np.asarray, run(state, jnp.asarray(X), jnp.asarray(MAP_CLASSES)))


@pytest.fixture(scope="module")
def expected(reference):
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        logits, cams = reference(torch.from_numpy(X).permute(0, 3, 1, 2), return_cam=True)
        # their training loss; the transcription has no stochastic depth, so its training
        # logits are its eval logits (camjax's are compared in eval mode)
        reference.train()
        loss = torch.nn.functional.cross_entropy(
            reference(torch.from_numpy(X).permute(0, 3, 1, 2)), torch.from_numpy(LABELS).long())
        reference.eval()
    return dict(logits=logits.numpy(), cams=cams.numpy(), loss=float(loss),
                semantic=reference.semantic.permute(0, 2, 3, 1).numpy(),
                attention=reference.attention.numpy())


def close(got, want, rel=1e-4):
    np.testing.assert_allclose(got, want, atol=rel * float(np.abs(want).max()))


def test_the_authors_checkpoint_loads_whole(tiny):
    _, report = tiny
    assert report.classifier_loaded and not report.new and not report.skipped


def test_logits_maps_and_attention_match_the_authors(outputs, expected):
    close(outputs["logits"], expected["logits"])
    close(outputs["semantic"], expected["semantic"])               # the conv head's maps
    np.testing.assert_array_equal(outputs["features"], outputs["semantic"])
    np.testing.assert_allclose(outputs["attention"], expected["attention"], rtol=1e-4,
                               atol=1e-5)                          # blocks, heads, row 0
    want = np.stack([expected["cams"][b, MAP_CLASSES[b]] for b in range(len(X))])
    assert outputs["maps"].shape == (8, 2, 4, 4)
    close(outputs["maps"], want)                                   # the engine's cam


def test_training_loss_is_the_cross_entropy_of_the_gap_logits(outputs, expected):
    np.testing.assert_allclose(outputs["loss"], expected["loss"], rtol=1e-5)


def test_a_deit_release_file_fills_everything_but_the_conv_head(reference):
    """DeiT's ImageNet file has a linear head (the authors' loader drops it): the conv head
    stays new, the rest loads."""
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    state["head.weight"] = np.zeros((1000, 32), np.float32)
    state["head.bias"] = np.zeros((1000,), np.float32)
    model = abstract(**TINY)
    fresh = np.asarray(model.head.kernel[...])
    report = load_pretrained(model, state)
    assert sorted(report.new) == ["head.bias", "head.kernel"] and not report.classifier_loaded
    assert sorted(report.skipped) == ["head.bias", "head.weight"]
    np.testing.assert_array_equal(model.head.kernel[...], fresh)
    np.testing.assert_allclose(model.blocks[1].attn.qkv.kernel[...],
                               state["blocks.1.attn.qkv.weight"].T)


def test_paper_size_parameters_and_head_init():
    """DeiT-S with a 3x3 conv head to CUB's 200 classes: the transcription's count on
    torch's meta device (nothing allocated) and by hand (timm's DeiT-S less its linear
    head, plus 384 x 200 x 9 + 200); the head's kernel and bias uniform in +-1/sqrt(9 D)
    as torch's default Conv2d init."""
    torch = pytest.importorskip("torch")
    from tests.models.torch_tscam import TSCAM
    with torch.device("meta"):
        net = TSCAM(dim=384, depth=12, heads=6, patch=16, image=224, num_classes=200)
    count = sum(p.numel() for p in net.parameters())
    model = nnx.eval_shape(lambda: create(num_classes=200))
    assert parameter_count(model) == count == 22_050_664 - 385_000 + 384 * 200 * 9 + 200
    assert model.features_layer == "head" and model.head.kernel.shape == (3, 3, 384, 200)
    head = tscam.head(64, 200, nnx.Rngs(0))
    bound = 1 / np.sqrt(9 * 64)
    for leaf in (head.kernel[...], head.bias[...]):
        assert bound >= np.abs(leaf).max() > 0.9 * bound


def test_drop_path_is_timms_and_training_only(tiny, outputs, expected):
    """Rates ``torch.linspace(0, rate, depth)`` (block 0 none, as timm's Identity),
    broadcast over an image's tokens; in eval mode the network is the transcription,
    which has none (above); in training the logits change."""
    torch = pytest.importorskip("torch")
    deeper = nnx.eval_shape(lambda: create(drop_path_rate=0.1, **{**TINY, "depth": 4}))
    assert deeper.blocks[0].drop_path is None
    assert [b.drop_path.rate for b in deeper.blocks[1:]] == \
        pytest.approx(torch.linspace(0, 0.1, 4).tolist()[1:])
    model, _ = tiny
    assert tuple(model.blocks[1].drop_path.broadcast_dims) == (1, 2)
    assert not np.allclose(outputs["train_logits"], expected["logits"], atol=1e-3)
