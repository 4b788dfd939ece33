"""TS-CAM on DeiT-S on wsolevaluation's CUB, with the authors' recipe.

CUB-200-2011 (train 5,994, test 5,794; val: CUBV2, 1,000 images).

TS-CAM's recipe (experiments/configs/tscam.py cites each number in vasgaowei/TS-CAM):
DeiT-S from DeiT's ImageNet release (deit_small_patch16_224-cd65a155.pth in
$CAMJAX_WEIGHTS_DIR) with a new 3x3 conv head to the 200 classes; AdamW (betas 0.9,
0.999, eps 1e-8), learning rate 5e-5, weight decay 0.05 (none on biases, norms and the
position / class tokens), batch 128, stochastic depth 0.1, 60 epochs = 2,820 steps (47
a epoch), the rate x0.1 at the start of epochs 30 and 60 (updates 1,363 and 2,773);
resize 256 x 256, random crop 224, flip; evaluation resized to 224. Their test
threshold 0.15 is the paper rule's (cam_threshold); the protocol's threshold is chosen
on val. Target on test: their README's DeiT-S row, top-1 localization 71.3, top-5 83.8,
GT-known 87.7, classification top-1 80.3 (in camjax's report, which gives errors: top-1
and top-5 localization error 28.7 and 16.2, classification error 19.7).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_cub_deit_small_tscam.py \
        --workdir runs/cub_deit_small_tscam
    camjax evaluate --config experiments/configs/wsol_cub_deit_small_tscam.py \
        --workdir runs/cub_deit_small_tscam

Elsewhere, add --config.dataset=wsol:METADATA/CUB --config.image_root=IMAGES/CUB
(docs/datasets.md). The authors' trained model evaluates as it is: --config.pretrained=
their checkpoint (.pth) with no checkpoint in the workdir (camjax evaluate only).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # tscam.py, beside this file
import tscam  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return tscam.recipe(default.get_config(), "CUB")
