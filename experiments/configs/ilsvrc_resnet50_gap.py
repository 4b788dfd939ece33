"""ResNet50-GAP (the WSOL benchmarks' CAM backbone): ResNet-50 with layer4 at stride 1
(14x14 maps at 224), GAP, softmax.

The released CAM solver (paper.py); ImageNet is a manual download (docs/training.md).

    camjax train --config experiments/configs/ilsvrc_resnet50_gap.py --workdir runs/resnet50_gap

Solver, weights ($CAMJAX_WEIGHTS_DIR), multi-host and bfloat16: paper.py, docs/training.md.
"""
import os
import sys

import ml_collections

sys.path.insert(0, os.path.dirname(__file__))   # paper.py, beside this file
import paper  # noqa: E402

from camjax.configs import default  # noqa: E402


def get_config():
    c = default.get_config()
    paper.released_solver(c, "resnet50_gap")
    c.pooling = "gap"
    c.model_kwargs = ml_collections.ConfigDict({"mapping_resolution": 14})
    return paper.imagenet(c, augment="random_resized_crop")
