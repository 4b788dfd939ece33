"""ResNet50-CAM on wsolevaluation's CUB.

CUB-200-2011 (train 5,994, test 5,794; val: CUBV2, 1,000 images).

wsolevaluation's vanilla-CAM recipe (experiments/configs/wsolevaluation.py cites the
sources): batch 32, SGD momentum 0.9, base learning rate 0.00023222617 (x10 on the new
layers), weight decay 0.0001, 50 epochs = 9,366 steps of 32 (N = 5,994), the rate x0.1
every 15 epochs = 2,810 steps, resize 256 / random crop 224 / flip, evaluation at 224,
ImageNet weights ($CAMJAX_WEIGHTS_DIR, paper.py). Target on test: wsolevaluation's
MaxBoxAccV2 63.0.

wsolevaluation trains this one with large_feature_map (28 x 28 maps), which camjax's
ResNet50-GAP does not have: it runs at 14 x 14 (see wsolevaluation.py).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_cub_resnet50_gap.py \
        --workdir runs/cub_resnet50_gap
    camjax evaluate --config experiments/configs/wsol_cub_resnet50_gap.py \
        --workdir runs/cub_resnet50_gap

Elsewhere, add --config.dataset=wsol:METADATA/CUB --config.image_root=IMAGES/CUB
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # wsolevaluation.py, beside this file
import wsolevaluation  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return wsolevaluation.recipe(default.get_config(), "CUB", "resnet50_gap")
