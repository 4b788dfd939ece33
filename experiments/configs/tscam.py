"""What the TS-CAM configs share: the authors' recipe for TS-CAM on DeiT-S (Gao et al.,
"TS-CAM: Token Semantic Coupled Attention Map for Weakly Supervised Object Localization",
ICCV 2021; vasgaowei/TS-CAM at 25aece4), trained on wsolevaluation's folders and scored
by the WSOL protocol like every other method (wsolevaluation.py's ``protocol``).

Not run on its own; ``wsol_<dataset>_deit_small_tscam.py`` call :func:`recipe` on top of
the packaged defaults (``camjax/configs/default.py``).

Where each number comes from (their repository):

* ``train_val_cub.sh`` / ``train_val_ilsvrc.sh``: ``--lr 5e-5`` (CUB), ``--lr 5e-4``
  (ILSVRC); the README says the same ("batch-size 128 and learning rate 5e-5", "256 and
  5e-4").
* ``lib/config/default.py`` (``update_config``'s argparse defaults, which those scripts
  keep): ``--opt adamw``, ``--opt-eps 1e-8``, betas torch's (0.9, 0.999),
  ``--weight-decay 0.05``, ``--drop 0.0``, ``--drop-path 0.1``.
* ``tools_cam/train_cam.py``: timm 0.3.2's ``create_optimizer(args, model)`` (AdamW; no
  weight decay on vectors, biases, ``pos_embed`` and ``cls_token``: camjax's
  ``config.optimizer="adamw"``); ``CrossEntropyLoss`` of the logits; at the start of each
  epoch ``adjust_learning_rate_normal`` multiplies the rate by ``LR_FACTOR`` when the
  epoch is a multiple of one of ``LR_STEPS`` (no other schedule: ``--sched`` is unused).
* ``configs/CUB/deit_tscam_small_patch16_224.yaml``: ``TRAIN.BATCH_SIZE`` 128,
  ``NUM_EPOCHS`` 60, ``LR_STEPS`` [30], ``LR_FACTOR`` 0.1, ``RESIZE_SIZE`` 256,
  ``CROP_SIZE`` 224; ``configs/ILSVRC/...``: 256, 20, [10, 12], 0.1, 256, 224. Their
  ``START_LR``, ``MUMENTUM`` and ``WEIGHT_DECAY`` are not read for the DeiT models (the
  optimizer takes the command line's values).
* ``lib/datasets/cub.py``, ``imagenet.py``: train ``Resize((256, 256))``, ``RandomCrop(224)``,
  horizontal flip; test ``Resize((224, 224))`` (wsolevaluation's too).
* ``lib/models/deit.py``: DeiT's release ``deit_small_patch16_224-cd65a155.pth`` fills all
  but the conv head (``$CAMJAX_WEIGHTS_DIR``, as paper.py).
* ``val_cub.sh`` ``MODEL.CAM_THR 0.15`` (0.1 in training's validation), ``val_ilsvrc.sh``
  0.12: camjax's ``cam_threshold`` (the "paper rule" operating point).

Epochs become steps of their loader: ``ceil(N / batch)`` a epoch (CUB 47, ILSVRC 5,005;
camjax's batches are all full, their last one of an epoch is short). Epoch e starts at
update (e - 1) x that, so the rate drops at updates (29, 59) x 47 on CUB (epochs 30 and
60) and (9, 11, 19) x 5,005 on ILSVRC (epochs 10, 12, 20): ``lr_boundaries``.

What differs: camjax scores the WSOL protocol (the threshold chosen on ``val``,
MaxBoxAccV2, wsolevaluation's boxes at 224) besides their fixed threshold; their
top-1 localization counts IoU > 0.5 and GT-known IoU >= 0.5, camjax >= 0.5 for both;
their box is the largest contour's bounding rectangle of the thresholded uint8 map
(OpenCV), camjax's paper rule the largest connected component; their CUB boxes are
truncated to integers after scaling to 224. camjax's batches are sharded over every
device (theirs: DataParallel, four GPUs on ILSVRC), its dropout draws are its own.
"""
import os

import ml_collections

from wsolevaluation import TRAIN_IMAGES, protocol   # beside this file

WEIGHTS = "deit_small_patch16_224-cd65a155.pth"     # facebookresearch/deit's release
# dataset: (learning rate, batch, epochs, LR_STEPS, CAM_THR of their test script)
RECIPES = {"CUB": (5e-5, 128, 60, (30,), 0.15), "ILSVRC": (5e-4, 256, 20, (10, 12), 0.12)}
# their README's DeiT-S rows: Loc.Acc@1, Loc.Acc@5, Loc.Gt-Known, Cls.Acc@1, Cls.Acc@5
TARGETS = {"CUB": (71.3, 83.8, 87.7, 80.3, 94.8), "ILSVRC": (53.4, 64.3, 67.6, 74.3, 92.1)}


def steps_per_epoch(dataset: str, batch: int) -> int:
    return -(-TRAIN_IMAGES[dataset] // batch)      # their DataLoader keeps the last batch


def decay_epochs(lr_steps, epochs: int) -> list[int]:
    """The epochs whose start multiplies the rate by LR_FACTOR (``adjust_learning_rate_
    normal``: ``epoch % step == 0`` for any step)."""
    return [e for e in range(1, epochs + 1) if any(e % s == 0 for s in lr_steps)]


def recipe(c, dataset: str):
    """TS-CAM's recipe on DeiT-S for ``dataset`` (CUB | ILSVRC)."""
    lr, batch, epochs, lr_steps, threshold = RECIPES[dataset]
    per_epoch = steps_per_epoch(dataset, batch)
    c = protocol(c, dataset)
    c.model, c.pooling, c.wsol_method = "deit_small_patch16_224", "gap", "tscam"
    c.model_kwargs = ml_collections.ConfigDict({"drop_path_rate": 0.1})
    c.pretrained = os.path.join(os.environ.get("CAMJAX_WEIGHTS_DIR", "weights"), WEIGHTS)
    c.optimizer, c.learning_rate, c.weight_decay = "adamw", lr, 0.05
    c.batch_size, c.num_train_steps = batch, epochs * per_epoch
    c.lr_schedule, c.lr_gamma, c.warmup_steps = "step", 0.1, 0
    c.lr_boundaries = tuple((e - 1) * per_epoch for e in decay_epochs(lr_steps, epochs))
    c.new_layer_lr_mult = 1.0                     # one rate for the backbone and the head
    c.cam_threshold = threshold
    c.checkpoint_every_steps = per_epoch
    return c
