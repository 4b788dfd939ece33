"""ResNet50-ACoL on wsolevaluation's ILSVRC.

ImageNet (train 1,281,167; test: the ILSVRC 2012 validation set, 50,000; val:
ImageNetV2, 10,000).

wsolevaluation's recipe (experiments/configs/wsolevaluation.py cites the sources): batch
32, SGD momentum 0.9, base learning rate 0.00003108411 (x10 on the layers the method
adds), weight decay 0.0001, 10 epochs = 400,365 steps of 32 (N = 1,281,167), the rate
x0.1 every 3 epochs = 120,109 steps, resize 256 / random crop 224 / flip, evaluation at
224, ImageNet weights ($CAMJAX_WEIGHTS_DIR, paper.py). ResNet50 with layer4 at stride 1
and fc with a bias (wsolevaluation's ResNetCam); 28 x 28 maps (wsolevaluation's
large_feature_map, camjax's mapping_resolution 28).

ACoL (Zhang et al., CVPR 2018): branch B on features erased where branch A's map >= 0.7;
the fused map. Hyperparameters: not the sheet's tuned row: config.py's default options
and the CAM row's learning rate and feature map. Target on test: wsolevaluation's
MaxBoxAccV2 62.3 (its README's table).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_ilsvrc_resnet50_gap_acol.py \
        --workdir runs/ilsvrc_resnet50_acol
    camjax evaluate --config experiments/configs/wsol_ilsvrc_resnet50_gap_acol.py \
        --workdir runs/ilsvrc_resnet50_acol

Elsewhere, add --config.dataset=wsol:METADATA/ILSVRC --config.image_root=IMAGES/ILSVRC
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # wsolevaluation.py, beside this file
import wsolevaluation  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return wsolevaluation.recipe(default.get_config(), "ILSVRC", "resnet50_gap", "acol")
