"""The probes of gmp_diagnostics.py: one batch's gradients and pooled-feature statistics,
the classifier's sharpness, and heads tried only there (log-sum-exp, pooled BatchNorm)."""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.data import transforms
from camjax.models.heads import global_pool
from camjax.training import step as step_lib


class ProbeHead(nnx.Module):
    """Heads tried here only: log-sum-exp pooling of sharpness ``r`` (Pinheiro & Collobert,
    CVPR 2015: r -> 0 is GAP, r -> inf is GMP), or BatchNorm of the pooled vector."""

    def __init__(self, in_features, num_classes, *, kind: str, r: float = 1.0,
                 pooling: str = "gmp", rngs: nnx.Rngs):
        self.kind, self.r, self.pooling = kind, r, pooling
        self.norm = nnx.BatchNorm(in_features, momentum=0.9, rngs=rngs)
        self.classifier = nnx.Linear(in_features, num_classes, use_bias=False,
                                     kernel_init=nnx.initializers.normal(0.01), rngs=rngs)

    def __call__(self, features):
        return self.classifier(self.pool(features))

    def pool(self, features):
        """What the classifier sees."""
        if self.kind == "lse":
            b, h, w, k = features.shape
            flat = self.r * features.reshape(b, h * w, k)
            return (jax.nn.logsumexp(flat, axis=1) - np.log(h * w)) / self.r
        if self.kind == "pooled_bn":
            return self.norm(global_pool(features, self.pooling))
        raise ValueError(f"diag.head must be 'lse' or 'pooled_bn', got {self.kind!r}")


def apply_probes(model, diag: dict, num_classes: int):
    """The diagnostic-only changes of a run: another head, a classifier init scale."""
    if "head" in diag:
        k = model.head.classifier.kernel.shape[0]
        model.head = ProbeHead(k, num_classes, kind=diag["head"], r=diag.get("r", 1.0),
                               pooling=model.head.pooling, rngs=nnx.Rngs(diag.get("seed", 0)))
    if "init_scale" in diag:     # the classifier's init std (0.01 in PoolingHead)
        kern = model.head.classifier.kernel
        kern[...] = kern[...] * (diag["init_scale"] / 0.01)
    return model


def classifier_input(model, features):
    """(the features the head pools, the vector its classifier sees), as the model
    computes them (tiny_gap's ``center_pooled`` subtracts the pooled batch mean)."""
    centre = getattr(model, "pooled_mean", None)
    head_features = features if centre is None else features - centre(features)
    head = model.head
    pooled = (head.pool(head_features) if isinstance(head, ProbeHead)
              else global_pool(head_features, head.pooling))
    return head_features, pooled


def group_of(path) -> str:
    """Layer group of a parameter path: backbone.<i>, cam_conv, head."""
    keys = [str(getattr(k, "key", getattr(k, "idx", k))) for k in path]
    return f"backbone.{keys[1]}" if keys[0] == "backbone" else keys[0]


def group_norms(tree) -> dict:
    sq = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        g = group_of(path)
        sq[g] = sq.get(g, 0.0) + jnp.sum(jnp.square(leaf.astype(jnp.float32)))
    return {g: jnp.sqrt(v) for g, v in sq.items()}


@partial(jax.jit, static_argnames=("graphdef", "num_classes"))
def probe(params, rest, images, labels, *, graphdef, num_classes):
    """Gradients and feature statistics of one batch in train mode (no update); uint8
    images (the input pipeline's) are normalised as the train step does."""
    if images.dtype == jnp.uint8:
        images = transforms.normalize_on_device(images)

    def cam_features(params):
        model = nnx.merge(graphdef, params, jax.tree.map(lambda x: x, rest))
        x = images
        for layer in model.backbone:
            x = layer(x)
        return model.cam_conv(x)

    def loss_fn(params, feature_shift):
        model = nnx.merge(graphdef, params, jax.tree.map(lambda x: x, rest))
        features = cam_features(params) + feature_shift    # shift 0: its grad is dL/dF
        logits = model.head(classifier_input(model, features)[0])
        loss = step_lib.cross_entropy(logits, labels)
        return loss, (logits, features)

    shift = jnp.zeros(jax.eval_shape(cam_features, params).shape, jnp.float32)
    (loss, (logits, feats)), (grads, dfeat) = jax.value_and_grad(
        loss_fn, argnums=(0, 1), has_aux=True)(params, shift)
    model = nnx.merge(graphdef, params, jax.tree.map(lambda x: x, rest))
    head = model.head
    _, pooled = classifier_input(model, feats)                      # (B, K)
    b, h, w, k = feats.shape
    flat = feats.reshape(b, h * w, k)
    win = jnp.argmax(flat, axis=1)                                  # (B, K) position index
    alive = flat.max(axis=1) > 0                                    # (B, K)
    hit = jax.nn.one_hot(win, h * w) * alive[..., None]             # (B, K, hw)
    distinct = (hit.sum(axis=1) > 0).sum(axis=1)                    # (B,)
    row, col = win // w, win % w
    border = (row == 0) | (row == h - 1) | (col == 0) | (col == w - 1)
    peak = flat.max(axis=1) / jnp.maximum(flat.mean(axis=1), 1e-6)
    kernel = head.classifier.kernel[...]
    pred = jnp.argmax(logits, -1)
    onehot = jax.nn.one_hot(labels, num_classes)                    # (B, C)
    count = onehot.sum(0)
    class_mean = (onehot.T @ pooled) / jnp.maximum(count, 1)[:, None]   # (C, K)
    mu = pooled.mean(0)
    between = (count[:, None] * (class_mean - mu) ** 2).sum(0) / b
    within = ((pooled - class_mean[labels]) ** 2).mean(0)
    return {
        "loss": loss,
        "accuracy": jnp.mean(pred == labels),
        "grad": group_norms(grads), "param": group_norms(params),
        "dfeat_norm": jnp.sqrt(jnp.sum(dfeat ** 2)),
        "dfeat_nonzero_frac": jnp.mean(jnp.abs(dfeat) > 0),
        "pooled_mean": pooled.mean(), "pooled_std_batch": pooled.std(0).mean(),
        "pooled_cv": (pooled.std(0) / jnp.maximum(pooled.mean(0), 1e-6)).mean(),
        "fisher": between.sum() / jnp.maximum(within.sum(), 1e-12),
        "classes_in_batch": jnp.sum(count > 0),
        "dead_channels": jnp.mean(flat.max(axis=(0, 1)) <= 0),
        "zero_pooled": jnp.mean(pooled <= 0),
        "active_positions": jnp.mean(flat > 0),
        "distinct_winners": distinct.mean(),
        "border_winners": jnp.sum(border & alive) / jnp.maximum(jnp.sum(alive), 1),
        "peak_over_mean": jnp.sum(jnp.where(alive, peak, 0.0)) / jnp.maximum(jnp.sum(alive), 1),
        "feature_mean": flat.mean(), "feature_max": flat.max(),
        "pred_mode_frac": jax.nn.one_hot(pred, num_classes).mean(0).max(),
        "head_sharpness": head_sharpness(pooled, kernel, labels),
        "pooled_sq_norm": jnp.mean(jnp.sum(pooled ** 2, -1)),
        "logit_std": logits.std(), "logit_range": (logits.max(-1) - logits.min(-1)).mean(),
    }


def head_sharpness(pooled, kernel, labels, iters: int = 20):
    """Top eigenvalue of the loss Hessian w.r.t. the classifier kernel, the pooled
    features held fixed (power iteration on Hessian-vector products). SGD with heavy-ball
    momentum b is unstable along that direction once lr * eigenvalue > 2 (1 + b)."""
    def loss(w):
        return step_lib.cross_entropy(pooled @ w, labels)

    def hvp(v):
        return jax.jvp(jax.grad(loss), (kernel,), (v,))[1]

    def body(_, v):
        hv = hvp(v)
        return hv / jnp.linalg.norm(hv)

    v = jax.lax.fori_loop(0, iters, body, jnp.ones_like(kernel) / np.sqrt(kernel.size))
    return jnp.vdot(v, hvp(v))
