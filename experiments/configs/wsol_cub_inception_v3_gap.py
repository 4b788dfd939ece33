"""InceptionV3-CAM on wsolevaluation's CUB.

CUB-200-2011 (train 5,994, test 5,794; val: CUBV2, 1,000 images).

wsolevaluation's recipe (experiments/configs/wsolevaluation.py cites the sources): batch
32, SGD momentum 0.9, base learning rate 0.00224844746 (x10 on the layers the method
adds), weight decay 0.0005, 50 epochs = 9,366 steps of 32 (N = 5,994), the rate x0.1
every 15 epochs = 2,810 steps, resize 256 / random crop 224 / flip, evaluation at 224,
ImageNet weights ($CAMJAX_WEIGHTS_DIR, paper.py). wsolevaluation's InceptionV3
(inception_v3_gap); 28 x 28 maps (wsolevaluation's large_feature_map, camjax's
mapping_resolution 28).

Vanilla CAM. Hyperparameters: the sheet's vanilla-CAM row (as dual-cam reproduces it).
Target on test: wsolevaluation's MaxBoxAccV2 56.7 (its README's table).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_cub_inception_v3_gap.py \
        --workdir runs/cub_inception_v3
    camjax evaluate --config experiments/configs/wsol_cub_inception_v3_gap.py \
        --workdir runs/cub_inception_v3

Elsewhere, add --config.dataset=wsol:METADATA/CUB --config.image_root=IMAGES/CUB
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # wsolevaluation.py, beside this file
import wsolevaluation  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return wsolevaluation.recipe(default.get_config(), "CUB", "inception_v3_gap")
