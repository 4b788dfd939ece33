"""``config.optimizer="adamw"`` against ``torch.optim.AdamW`` with timm's weight-decay groups
(timm 0.3.2 ``create_optimizer``: no decay on vectors, ``.bias`` and the model's
``no_weight_decay()``, ``pos_embed`` and ``cls_token``), and the step schedule at
``lr_boundaries`` against the rate a torch loop sets by hand (bad values of both keys:
tests/cli_cases.py)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from camjax import config as config_lib
from camjax.training import optim
from tests.conftest import DEMO

# camjax path -> timm's name (the rule reads names and ranks, not layouts)
NAMES = {("pos_embed",): "pos_embed", ("cls_token",): "cls_token",
         ("blocks", "0", "attn", "qkv", "kernel"): "blocks.0.attn.qkv.weight",
         ("blocks", "0", "attn", "qkv", "bias"): "blocks.0.attn.qkv.bias",
         ("blocks", "0", "norm1", "scale"): "blocks.0.norm1.weight",
         ("head", "kernel"): "head.weight", ("head", "bias"): "head.bias"}
SHAPES = {"pos_embed": (1, 3, 4), "cls_token": (1, 1, 4), "blocks.0.attn.qkv.weight": (4, 6),
          "blocks.0.attn.qkv.bias": (6,), "blocks.0.norm1.weight": (4,),
          "head.weight": (3, 3, 4, 2), "head.bias": (2,)}


def _nest(flat: dict) -> dict:
    out: dict = {}
    for path, value in flat.items():
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def test_adamw_is_torchs_with_timms_weight_decay_groups():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    values = {name: rng.normal(size=shape).astype(np.float32) for name, shape in SHAPES.items()}
    grads = [{name: rng.normal(size=shape).astype(np.float32) for name, shape in SHAPES.items()}
             for _ in range(3)]
    c = config_lib.load(DEMO, {"optimizer": "adamw", "learning_rate": 0.1, "weight_decay": 0.05,
                               "lr_schedule": "step", "lr_boundaries": (2,), "lr_gamma": 0.1,
                               "warmup_steps": 0})
    params = _nest({path: jnp.asarray(values[name]) for path, name in NAMES.items()})
    tx, _ = optim.make_optimizer(c, params)

    @jax.jit            # one compile (eager optax compiles every op of every leaf)
    def train(params, grads):
        state = tx.init(params)
        for g in grads:
            updates, state = tx.update(g, state, params)
            params = optax.apply_updates(params, updates)
        return params
    params = train(params, [_nest({p: jnp.asarray(g[n]) for p, n in NAMES.items()})
                            for g in grads])

    tensors = {n: torch.nn.Parameter(torch.from_numpy(v.copy())) for n, v in values.items()}
    skip = {"pos_embed", "cls_token"}                    # VisionTransformer.no_weight_decay()
    no_decay = [p for n, p in tensors.items() if p.ndim == 1 or n.endswith(".bias") or n in skip]
    decay = [p for n, p in tensors.items() if not any(p is q for q in no_decay)]
    opt = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0},
                             {"params": decay, "weight_decay": 0.05}], lr=0.1, eps=1e-8)
    for i, g in enumerate(grads):
        for group in opt.param_groups:                    # x0.1 from update 2 on
            group["lr"] = 0.1 * (0.1 if i >= 2 else 1.0)
        for n, p in tensors.items():
            p.grad = torch.from_numpy(g[n])
        opt.step()
    flat = {NAMES[tuple(str(getattr(k, "key", k)) for k in path)]: np.asarray(v)
            for path, v in jax.tree_util.tree_flatten_with_path(params)[0]}
    # optax computes Adam's bias correction 1 - 0.999^t in float32 (1e-5 off at t = 1),
    # torch in float64: updates of 0.1 differ by ~1e-6; a wrong decay group by 5e-3
    for name, tensor in tensors.items():
        np.testing.assert_allclose(flat[name], tensor.detach().numpy(), rtol=1e-5, atol=2e-5,
                                   err_msg=name)
