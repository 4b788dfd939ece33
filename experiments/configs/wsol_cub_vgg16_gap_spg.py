"""VGG16-SPG on wsolevaluation's CUB.

CUB-200-2011 (train 5,994, test 5,794; val: CUBV2, 1,000 images).

wsolevaluation's recipe (experiments/configs/wsolevaluation.py cites the sources): batch
32, SGD momentum 0.9, base learning rate 0.00012558923 (x10 on the layers the method
adds), weight decay 0.0005, 50 epochs = 9,366 steps of 32 (N = 5,994), the rate x0.1
every 15 epochs = 2,810 steps, resize 256 / random crop 224 / flip, evaluation at 224,
ImageNet weights ($CAMJAX_WEIGHTS_DIR, paper.py). VGG16-GAP as wsolevaluation's VggCam:
conv6 without groups, no dropout, fc with a bias; 14 x 14 maps.

SPG (Zhang et al., ECCV 2018): seed thresholds (high, low) ((0.29, 0.23), (0.03, 0.02),
(0.82, 0.59)) for B2, B1, C. Hyperparameters: the sheet's CUB row as WSOL_RS transcribes
it (unverified). Target on test: wsolevaluation's MaxBoxAccV2 56.3 (its README's table).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_cub_vgg16_gap_spg.py \
        --workdir runs/cub_vgg16_spg
    camjax evaluate --config experiments/configs/wsol_cub_vgg16_gap_spg.py \
        --workdir runs/cub_vgg16_spg

Elsewhere, add --config.dataset=wsol:METADATA/CUB --config.image_root=IMAGES/CUB
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # wsolevaluation.py, beside this file
import wsolevaluation  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return wsolevaluation.recipe(default.get_config(), "CUB", "vgg16_gap", "spg")
