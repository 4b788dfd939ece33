"""ResNet50-ADL on wsolevaluation's OpenImages.

OpenImages30k (train 29,819, val 2,500, test 5,000, with masks).

wsolevaluation's recipe (experiments/configs/wsolevaluation.py cites the sources): batch
32, SGD momentum 0.9, base learning rate 0.00107117324 (x10 on the layers the method
adds), weight decay 0.0001, 10 epochs = 9,318 steps of 32 (N = 29,819), the rate x0.1
every 3 epochs = 2,796 steps, resize 256 / random crop 224 / flip, evaluation at 224,
ImageNet weights ($CAMJAX_WEIGHTS_DIR, paper.py). ResNet50 with layer4 at stride 1 and
fc with a bias (wsolevaluation's ResNetCam); 14 x 14 maps.

ADL (Choe & Shim, CVPR 2019): drop rate 0.75, threshold 0.9. Hyperparameters: not the
sheet's tuned row: config.py's default options and the CAM row's learning rate and
feature map. Target on test: wsolevaluation's PxAP 55.2 (its README's table).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_openimages_resnet50_gap_adl.py \
        --workdir runs/openimages_resnet50_adl
    camjax evaluate --config experiments/configs/wsol_openimages_resnet50_gap_adl.py \
        --workdir runs/openimages_resnet50_adl

Elsewhere, add --config.dataset=wsol:METADATA/OpenImages --config.image_root=IMAGES/OpenImages
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # wsolevaluation.py, beside this file
import wsolevaluation  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return wsolevaluation.recipe(default.get_config(), "OpenImages", "resnet50_gap", "adl")
