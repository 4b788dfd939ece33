"""What the wsol_*.py configs share: wsolevaluation's recipes on its folders, for each
method its config gives (cam, has, acol, spg, adl, cutmix) and network.

Not run on its own; ``wsol_<dataset>_<network>[_<method>].py`` call :func:`recipe` on top
of the packaged defaults (``camjax/configs/default.py``).

Sources (clovaai/wsolevaluation, Choe et al., CVPR 2020 / TPAMI 2022):

* ``config.py``: SGD momentum 0.9 (``main.py``: ``nesterov=True``), ``lr_classifier_ratio``
  10 (the rate multiplier of the layers a method adds), resize 256 then random crop 224
  and a horizontal flip for training (``data_loaders.py``), evaluation resized to 224 x 224
  and scored at 224 (``evaluation.py``: ``_RESIZE_LENGTH = 224``), ``cam_curve_interval``
  0.001, MaxBoxAccV2 at IoU 30/50/70, the last checkpoint evaluated; the methods' options
  and their defaults (camjax's defaults are the same: ``has_grid_size`` 4,
  ``has_drop_rate`` 0.5, ``acol_threshold`` 0.7, ``spg_thresholds`` ((0.7, 0.01),
  (0.5, 0.05), (0.7, 0.1)), ``adl_drop_rate`` 0.75, ``adl_threshold`` 0.9,
  ``cutmix_beta`` 1, ``cutmix_prob`` 1);
* per dataset, network and method, its hyperparameter sheet (linked from its README;
  issues #10 and #22), which could not be read from here. Its rows as others reproduce
  them: the vanilla-CAM rows (:data:`LEARNING_RATES`, :data:`LARGE_FEATURE_MAP`) from
  finallyupper/dual-cam ``scripts/run_train.sh`` (batch 32; CUB 50 epochs, x0.1 every 15;
  ILSVRC and OpenImages 10 epochs, x0.1 every 3; weight decay 5e-4 for VGG16 and
  InceptionV3, 1e-4 for ResNet50); the other methods' CUB rows (:data:`CUB_ROWS`) from
  jjRen-xd/WSOL_RS ``train_C45V2_other.sh``, whose CAM rows are the sheet's and whose
  ResNet50 HaS and ADL rows DA-WSOL's CUB script repeats. These are transcriptions,
  not the sheet itself: check them there before you quote a number. Other (dataset,
  method) pairs use the config.py defaults and the CAM row's learning rate
  (:func:`provenance` says which).

camjax counts steps, not epochs: ``num_train_steps = round(epochs * N / 32)`` and
``lr_step_size = round(decay_epochs * N / 32)`` with N the train-weaksup images
(:data:`TRAIN_IMAGES`). The networks are wsolevaluation's, layer for layer
(tests/models/test_wsol_networks.py): VGG16's conv6 without groups, and its fc, ResNet50's
and InceptionV3's classifiers with a bias; ``large_feature_map`` is camjax's
``mapping_resolution`` 28. Where camjax differs: plain momentum (wsolevaluation:
Nesterov); wsolevaluation decays *before* epochs 15, 30, 45 (3, 6, 9), i.e. after 14, 29,
44 epochs, camjax's staircase after 15, 30, 45; the 10x rate goes to the layers a method
adds (``training.optim.NEW_LAYER_PREFIXES``), where wsolevaluation's ResNet50 gives it to
layer4 and fc and not to ACoL's and SPG's new layers, and its VGG16-SPG to conv4/5 too
(renamed SPG_A_1/2); on ILSVRC its ResNet50 starts from torchvision's fc, camjax's from
a fresh classifier; its ``train-fullsup`` samples (10, 5, 5) images a class on (ILSVRC,
CUB, OpenImages), camjax's ``val`` uses the whole split (OpenImages: 25 a class). The
test split is scored once, at the end, after the CAM threshold is chosen on ``val``.
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
MODELS = ("vgg16_gap", "resnet50_gap", "inception_v3_gap")
METHODS = ("cam", "has", "acol", "spg", "adl", "cutmix")
# the vanilla-CAM rows: base learning rate and large_feature_map (28 x 28 maps)
LEARNING_RATES = {
    ("CUB", "vgg16_gap"): 0.00001268269,
    ("CUB", "resnet50_gap"): 0.00023222617,
    ("CUB", "inception_v3_gap"): 0.00224844746,
    ("ILSVRC", "vgg16_gap"): 0.00001654502,
    ("ILSVRC", "resnet50_gap"): 0.00003108411,
    ("ILSVRC", "inception_v3_gap"): 0.0003606503,
    ("OpenImages", "vgg16_gap"): 0.00034052401,
    ("OpenImages", "resnet50_gap"): 0.00107117324,
    ("OpenImages", "inception_v3_gap"): 0.0003,     # dual-cam's, rounded there
}
LARGE_FEATURE_MAP = {("CUB", "resnet50_gap"), ("CUB", "inception_v3_gap"),
                     ("ILSVRC", "resnet50_gap"), ("ILSVRC", "inception_v3_gap"),
                     ("OpenImages", "inception_v3_gap")}
# CUB rows of the other methods: (learning rate, large_feature_map, options)
CUB_ROWS = {
    ("resnet50_gap", "has"): (0.00361996526, True, {"has_grid_size": 120, "has_drop_rate": 0.66}),
    ("vgg16_gap", "has"): (0.00342891848, False, {"has_grid_size": 65, "has_drop_rate": 0.47}),
    ("inception_v3_gap", "has"): (0.01400558066, False,
                                  {"has_grid_size": 170, "has_drop_rate": 0.26}),
    ("resnet50_gap", "acol"): (0.00001700073, True, {"acol_threshold": 0.57}),
    ("vgg16_gap", "acol"): (0.00010569582, False, {"acol_threshold": 0.89}),
    ("inception_v3_gap", "acol"): (0.00658832165, False, {"acol_threshold": 0.79}),
    ("resnet50_gap", "spg"): (0.00004521947, True, {
        "spg_thresholds": ((0.41, 0.35), (0.24, 0.21), (0.12, 0.08))}),
    ("vgg16_gap", "spg"): (0.00012558923, False, {
        "spg_thresholds": ((0.29, 0.23), (0.03, 0.02), (0.82, 0.59))}),
    ("inception_v3_gap", "spg"): (0.0003360682, False, {
        "spg_thresholds": ((0.28, 0.02), (0.17, 0.03), (0.47, 0.31))}),
    ("resnet50_gap", "adl"): (0.01253438325, True, {"adl_threshold": 0.76,
                                                    "adl_drop_rate": 0.24}),
    ("vgg16_gap", "adl"): (0.00002430601, False, {"adl_threshold": 0.72,
                                                  "adl_drop_rate": 0.33}),
    ("inception_v3_gap", "adl"): (0.00038655054, False, {"adl_threshold": 0.86,
                                                         "adl_drop_rate": 0.69}),
    ("resnet50_gap", "cutmix"): (0.0003333722, True, {"cutmix_beta": 1.35,
                                                      "cutmix_prob": 0.24}),
    ("vgg16_gap", "cutmix"): (0.00003220934, False, {"cutmix_beta": 0.85,
                                                     "cutmix_prob": 0.79}),
    ("inception_v3_gap", "cutmix"): (0.00225171726, False, {"cutmix_beta": 0.04,
                                                            "cutmix_prob": 0.30}),
}
WEIGHT_DECAY = {"vgg16_gap": 5e-4, "resnet50_gap": 1e-4, "inception_v3_gap": 5e-4}
BATCH = 32


def steps(dataset: str, epochs: float) -> int:
    return round(epochs * TRAIN_IMAGES[dataset] / BATCH)


def row(dataset: str, model: str, method: str) -> tuple[float, bool, dict]:
    """(learning rate, large_feature_map, method options) of one sheet row."""
    if dataset == "CUB" and (model, method) in CUB_ROWS:
        return CUB_ROWS[(model, method)]
    return (LEARNING_RATES[(dataset, model)], (dataset, model) in LARGE_FEATURE_MAP, {})


def provenance(dataset: str, model: str, method: str) -> str:
    if method == "cam":
        return "the sheet's vanilla-CAM row (as dual-cam reproduces it)"
    if dataset == "CUB":
        return "the sheet's CUB row as WSOL_RS transcribes it (unverified)"
    return ("not the sheet's tuned row: config.py's default options and the CAM row's "
            "learning rate and feature map")


def recipe(c, dataset: str, model: str, method: str = "cam"):
    """The wsolevaluation recipe for ``dataset`` (CUB | ILSVRC | OpenImages), ``model``
    and ``method``."""
    lr, large, options = row(dataset, model, method)
    c.model, c.pooling, c.wsol_method = model, "gap", method
    c.pretrained = paper.weights(model)           # torchvision ImageNet weights
    kwargs = {"vgg16_gap": {"dropout_rate": 0.0, "cam_groups": 1, "classifier_bias": True},
              "resnet50_gap": {"classifier_bias": True}, "inception_v3_gap": {}}[model]
    # large_feature_map: 28 x 28 maps; otherwise 14 x 14 (ResNet50: layer4 at stride 1)
    kwargs = {**kwargs, "mapping_resolution": 28 if large else 14}
    c.model_kwargs = ml_collections.ConfigDict(kwargs)
    for key, value in options.items():
        c[key] = value
    epochs, decay = SCHEDULE[dataset]
    c.batch_size = BATCH
    c.num_train_steps = steps(dataset, epochs)
    c.learning_rate = lr
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
