"""ResNet50-GAP (layer4 at stride 1, 14x14 maps) fine-tuned on CUB-200-2011.

The released CAM solver's optimiser (see paper.py: SGD momentum 0.9, wd 5e-4, lr 0.001,
batch 64, ImageNet weights, 10x learning rate on the new layers) on a schedule scaled to
CUB: 4,700 steps (50 epochs), lr x0.1 every 1,400. TFDS downloads caltech_birds2011.

    camjax train --config experiments/configs/cub_resnet50_gap.py --workdir runs/cub_resnet50_gap

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
    return paper.cub(c, augment="random_resized_crop")
