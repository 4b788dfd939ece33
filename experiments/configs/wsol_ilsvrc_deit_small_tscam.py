"""TS-CAM on DeiT-S on wsolevaluation's ILSVRC, with the authors' recipe.

ImageNet-1k (train 1,281,167; test: the 50,000 validation images; val: ImageNetV2).

TS-CAM's recipe (experiments/configs/tscam.py cites each number in vasgaowei/TS-CAM):
DeiT-S from DeiT's ImageNet release (deit_small_patch16_224-cd65a155.pth in
$CAMJAX_WEIGHTS_DIR) with a new 3x3 conv head to the 1,000 classes; AdamW (betas 0.9,
0.999, eps 1e-8), learning rate 5e-4, weight decay 0.05 (none on biases, norms and the
position / class tokens), batch 256, stochastic depth 0.1, 20 epochs = 100,100 steps
(5,005 a epoch), the rate x0.1 at the start of epochs 10, 12 and 20 (updates 45,045,
55,055 and 95,095); resize 256 x 256, random crop 224, flip; evaluation resized to 224.
Their test threshold 0.12 is the paper rule's (cam_threshold); the protocol's threshold
is chosen on val. Target on test: their README's DeiT-S row, top-1 localization 53.4,
top-5 64.3, GT-known 67.6, classification top-1 74.3.

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_ilsvrc_deit_small_tscam.py \
        --workdir runs/ilsvrc_deit_small_tscam
    camjax evaluate --config experiments/configs/wsol_ilsvrc_deit_small_tscam.py \
        --workdir runs/ilsvrc_deit_small_tscam

Elsewhere, add --config.dataset=wsol:METADATA/ILSVRC --config.image_root=IMAGES/ILSVRC
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # tscam.py, beside this file
import tscam  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return tscam.recipe(default.get_config(), "ILSVRC")
