"""InceptionV3-ADL on wsolevaluation's ILSVRC.

ImageNet (train 1,281,167; test: the ILSVRC 2012 validation set, 50,000; val:
ImageNetV2, 10,000).

wsolevaluation's recipe (experiments/configs/wsolevaluation.py cites the sources): batch
32, SGD momentum 0.9, base learning rate 0.0003606503 (x10 on the layers the method
adds), weight decay 0.0005, 10 epochs = 400,365 steps of 32 (N = 1,281,167), the rate
x0.1 every 3 epochs = 120,109 steps, resize 256 / random crop 224 / flip, evaluation at
224, ImageNet weights ($CAMJAX_WEIGHTS_DIR, paper.py). wsolevaluation's InceptionV3
(inception_v3_gap); 28 x 28 maps (wsolevaluation's large_feature_map, camjax's
mapping_resolution 28).

ADL (Choe & Shim, CVPR 2019): drop rate 0.75, threshold 0.9. Hyperparameters: not the
sheet's tuned row: config.py's default options and the CAM row's learning rate and
feature map. Target on test: wsolevaluation's MaxBoxAccV2 61.4 (its README's table).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_ilsvrc_inception_v3_gap_adl.py \
        --workdir runs/ilsvrc_inception_v3_adl
    camjax evaluate --config experiments/configs/wsol_ilsvrc_inception_v3_gap_adl.py \
        --workdir runs/ilsvrc_inception_v3_adl

Elsewhere, add --config.dataset=wsol:METADATA/ILSVRC --config.image_root=IMAGES/ILSVRC
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # wsolevaluation.py, beside this file
import wsolevaluation  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return wsolevaluation.recipe(default.get_config(), "ILSVRC", "inception_v3_gap", "adl")
