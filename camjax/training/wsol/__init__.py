"""The WSOL methods on camjax's train step (``config.wsol_method``), with wsolevaluation's
option names and defaults (Choe et al., "Evaluating Weakly Supervised Object Localization
Methods Right", CVPR 2020; clovaai/wsolevaluation ``config.py``):

=========  ==========================================  ====================================
method     what changes                                options (default)
=========  ==========================================  ====================================
cam        nothing (Zhou et al., CVPR 2016)
has        the images: hidden patches (HaS, ICCV'17)   has_grid_size (4), has_drop_rate (.5)
cutmix     the images and labels (CutMix, ICCV'19)     cutmix_beta (1.0), cutmix_prob (1.0)
adl        the network: ADL layers (CVPR'19)           adl_drop_rate (.75), adl_threshold (.9)
acol       the network: two branches (CVPR'18)         acol_threshold (.7)
spg        the network and the loss (ECCV'18)          spg_thresholds ((.7,.01),(.5,.05),(.7,.1))
fewshot    the data: trained on val's boxes/masks      fewshot_cls_weight (1.0)
=========  ==========================================  ====================================

:class:`Method` is the static part the jitted step closes over; the step derives its
augmentation key from ``seed`` and the step number (``jax.random.fold_in``), so a resumed
run draws what an uninterrupted one would, on any number of devices.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from camjax.checks.wsol import METHODS, model_kwargs  # noqa: F401  (checked there)
from camjax.models.wsol import NETWORK_METHODS
from camjax.training.wsol import augment, losses

_KEY_TAG = 0x57_50_4C   # separates the augmentation stream from the seed's other uses


@dataclasses.dataclass(frozen=True)
class Method:
    name: str = "cam"
    seed: int = 0
    has_grid_size: int = 4
    has_drop_rate: float = 0.5
    cutmix_beta: float = 1.0
    cutmix_prob: float = 1.0
    spg_thresholds: tuple = ((0.7, 0.01), (0.5, 0.05), (0.7, 0.1))
    fewshot_cls_weight: float = 1.0


def from_config(config) -> Method:
    return Method(name=config.wsol_method, seed=int(config.seed),
                  has_grid_size=int(config.has_grid_size),
                  has_drop_rate=float(config.has_drop_rate),
                  cutmix_beta=float(config.cutmix_beta), cutmix_prob=float(config.cutmix_prob),
                  spg_thresholds=tuple(tuple(float(v) for v in p)
                                       for p in config.spg_thresholds),
                  fewshot_cls_weight=float(config.fewshot_cls_weight))


def step_key(method: Method, step) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(method.seed), _KEY_TAG), step)


def inputs(method: Method, key, images, labels) -> tuple:
    """(images, second labels, first labels' weight): HaS and CutMix change the batch."""
    if method.name == "has":
        images = augment.has(key, images, method.has_grid_size, method.has_drop_rate)
    if method.name == "cutmix":
        return augment.cutmix(key, images, labels, method.cutmix_beta, method.cutmix_prob)
    return images, labels, jnp.ones((), jnp.float32)


def loss(method: Method, model, images, batch, mixed) -> tuple[jax.Array, jax.Array]:
    """(loss, logits) of the method on the (augmented) ``images``."""
    labels = batch["label"]
    if method.name not in NETWORK_METHODS or method.name == "adl":
        logits = model(images)[0]
        if method.name == "cutmix":
            labels_b, weight = mixed
            return (weight * losses.cross_entropy(logits, labels)
                    + (1 - weight) * losses.cross_entropy(logits, labels_b)), logits
        return losses.cross_entropy(logits, labels), logits
    out = model.wsol_outputs(images, labels)
    if method.name == "acol":
        return losses.acol_loss(out, labels), out["logits"]
    if method.name == "spg":
        return losses.spg_loss(out, labels, method.spg_thresholds, images.shape[1:3]), \
            out["logits"]
    return losses.fewshot_loss(out, labels, batch["foreground"],
                               method.fewshot_cls_weight), out["logits"]
