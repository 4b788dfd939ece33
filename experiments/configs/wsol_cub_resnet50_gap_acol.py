"""ResNet50-ACoL on wsolevaluation's CUB.

CUB-200-2011 (train 5,994, test 5,794; val: CUBV2, 1,000 images).

wsolevaluation's recipe (experiments/configs/wsolevaluation.py cites the sources): batch
32, SGD momentum 0.9, base learning rate 0.00001700073 (x10 on the layers the method
adds), weight decay 0.0001, 50 epochs = 9,366 steps of 32 (N = 5,994), the rate x0.1
every 15 epochs = 2,810 steps, resize 256 / random crop 224 / flip, evaluation at 224,
ImageNet weights ($CAMJAX_WEIGHTS_DIR, paper.py). ResNet50 with layer4 at stride 1 and
fc with a bias (wsolevaluation's ResNetCam); 28 x 28 maps (wsolevaluation's
large_feature_map, camjax's mapping_resolution 28).

ACoL (Zhang et al., CVPR 2018): branch B on features erased where branch A's map >=
0.57; the fused map. Hyperparameters: the sheet's CUB row as WSOL_RS transcribes it
(unverified). Target on test: wsolevaluation's MaxBoxAccV2 66.5 (its README's table).

From a wsolevaluation checkout (metadata/ and dataset/ prepared by its scripts):

    camjax train --config experiments/configs/wsol_cub_resnet50_gap_acol.py \
        --workdir runs/cub_resnet50_acol
    camjax evaluate --config experiments/configs/wsol_cub_resnet50_gap_acol.py \
        --workdir runs/cub_resnet50_acol

Elsewhere, add --config.dataset=wsol:METADATA/CUB --config.image_root=IMAGES/CUB
(docs/datasets.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # wsolevaluation.py, beside this file
import wsolevaluation  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    return wsolevaluation.recipe(default.get_config(), "CUB", "resnet50_gap", "acol")
