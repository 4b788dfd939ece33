"""GoogLeNet-GAP (paper section 3.1): GoogLeNet up to inception4e, a 3x3 conv of 1024
units (groups 2), GAP, softmax.

The released CAM solver (paper.py); ImageNet is a manual download (docs/training.md).

    camjax train --config experiments/configs/ilsvrc_googlenet_gap.py --workdir runs/googlenet_gap

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
    paper.released_solver(c, "googlenet_gap")
    c.pooling = "gap"
    c.model_kwargs = ml_collections.ConfigDict({"transform_input": True})  # torchvision weights
    return paper.imagenet(c, augment="resize_crop")
