"""What the wsol_*.py configs share: wsolevaluation's vanilla-CAM recipe on its folders.

Not run on its own; ``wsol_<dataset>_<network>_gap.py`` call :func:`recipe` on top of the
packaged defaults (``camjax/configs/default.py``).

Sources (clovaai/wsolevaluation, Choe et al., CVPR 2020 / TPAMI 2022):

* ``config.py``: SGD momentum 0.9 (``main.py``: ``nesterov=True``), ``lr_classifier_ratio``
  10 (the rate multiplier of the layers CAM adds), resize 256 then random crop 224 and a
  horizontal flip for training (``data_loaders.py``), evaluation resized to 224 x 224 and
  scored at 224 (``evaluation.py``: ``_RESIZE_LENGTH = 224``), ``cam_curve_interval``
  0.001, MaxBoxAccV2 at IoU 30/50/70, the last checkpoint evaluated;
* per dataset and network, its hyperparameter sheet (linked from the README and issues #10
  and #22; the vanilla-CAM rows as reproduced in finallyupper/dual-cam
  ``scripts/run_train.sh``): batch 32; CUB 50 epochs, lr x0.1 every 15; ILSVRC and
  OpenImages 10 epochs, x0.1 every 3; weight decay 5e-4 (VGG16) and 1e-4 (ResNet50);
  the base learning rates in :data:`LEARNING_RATES`.

camjax counts steps, not epochs: ``num_train_steps = round(epochs * N / 32)`` and
``lr_step_size = round(decay_epochs * N / 32)`` with N the train-weaksup images
(:data:`TRAIN_IMAGES`). Knobs camjax does not have, so these runs differ from
wsolevaluation's there: Nesterov momentum (camjax: plain momentum); wsolevaluation decays
*before* epochs 15, 30, 45 (3, 6, 9), i.e. after 14, 29, 44 epochs, camjax's staircase
after 15, 30, 45; its ResNet50 gives ``layer4`` the 10x rate too (camjax: only the new
head); its ResNet50 ``large_feature_map`` (28 x 28) does not exist in camjax (ResNet50-GAP
``mapping_resolution`` 7 | 14; 14 is wsolevaluation's default 14 x 14); VGG16-GAP's CAM conv
has ``groups=2`` (the CAM release) where wsolevaluation's has none. The test split is
scored once, at the end, after the CAM threshold is chosen on ``val`` (train-fullsup); the
threshold sweep steps by 0.001 as wsolevaluation's.
"""
import os
import sys

import ml_collections

sys.path.insert(0, os.path.dirname(__file__))   # paper.py, beside this file
import paper  # noqa: E402

# wsolevaluation's train-weaksup split sizes (metadata/<dataset>/train/image_ids.txt)
TRAIN_IMAGES = {"CUB": 5_994, "ILSVRC": 1_281_167, "OpenImages": 29_819}
CLASSES = {"CUB": 200, "ILSVRC": 1000, "OpenImages": 100}   # main.py _NUM_CLASSES_MAPPING
# (epochs, lr decay every ... epochs)
SCHEDULE = {"CUB": (50, 15), "ILSVRC": (10, 3), "OpenImages": (10, 3)}
LEARNING_RATES = {
    ("CUB", "vgg16_gap"): 0.00001268269,
    ("CUB", "resnet50_gap"): 0.00023222617,
    ("ILSVRC", "vgg16_gap"): 0.00001654502,
    ("ILSVRC", "resnet50_gap"): 0.00003108411,
    ("OpenImages", "resnet50_gap"): 0.00107117324,
}
WEIGHT_DECAY = {"vgg16_gap": 5e-4, "resnet50_gap": 1e-4}
BATCH = 32


def steps(dataset: str, epochs: float) -> int:
    return round(epochs * TRAIN_IMAGES[dataset] / BATCH)


def recipe(c, dataset: str, model: str):
    """The wsolevaluation CAM recipe for ``dataset`` (CUB | ILSVRC | OpenImages)."""
    c.model, c.pooling = model, "gap"
    c.pretrained = paper.weights(model)           # torchvision ImageNet weights
    if model == "vgg16_gap":                      # wsolevaluation's VggCam has no dropout
        c.model_kwargs = ml_collections.ConfigDict({"dropout_rate": 0.0})
    else:                                         # layer4 at stride 1: 14 x 14 at 224
        c.model_kwargs = ml_collections.ConfigDict({"mapping_resolution": 14})
    epochs, decay = SCHEDULE[dataset]
    c.batch_size = BATCH
    c.num_train_steps = steps(dataset, epochs)
    c.learning_rate = LEARNING_RATES[(dataset, model)]
    c.lr_schedule, c.lr_step_size, c.lr_gamma = "step", steps(dataset, decay), 0.1
    c.warmup_steps = 0
    c.momentum, c.weight_decay = 0.9, WEIGHT_DECAY[model]
    c.new_layer_lr_mult = 10.0                    # lr_classifier_ratio
    # wsolevaluation's checkout layout (run from its root): metadata/<dataset>/<split>/
    # and dataset/<dataset>/ (images; OpenImages masks beside them). Elsewhere:
    # --config.dataset=wsol:PATH --config.image_root=PATH (docs/datasets.md)
    c.dataset, c.image_root, c.mask_root = f"wsol:metadata/{dataset}", f"dataset/{dataset}", ""
    c.train_split, c.eval_split, c.val_split = "train", "test", "val"
    c.cam_curve_interval = 0.001                  # wsolevaluation's cam_curve_interval
    c.image_size, c.augment = 224, "resize_crop"  # resize 256, random crop 224, flip
    c.eval_map_size = 224
    # boxes per image: CUB 1; ILSVRC test (ImageNet val) up to 20, val (ImageNetV2) 259
    c.max_boxes = 260 if dataset == "ILSVRC" else 8
    c.eval_batch_size = 128
    c.data_threads = 16
    c.log_every_steps = 100
    c.checkpoint_every_steps = max(steps(dataset, 1), 100)   # about once an epoch
    c.keep_checkpoints = 3
    c.eval_every_steps = 0
    c.compute_dtype = "float32"                   # --config.compute_dtype=bfloat16 on GPUs
    return c
