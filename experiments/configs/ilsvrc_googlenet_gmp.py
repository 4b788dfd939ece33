"""GoogLeNet-GMP (paper section 3.1, Table 1): GoogLeNet-GAP with global max pooling.

Released CAM solver (see paper.py): SGD momentum 0.9, wd 5e-4, lr 0.001 x0.1 every
40k iterations, batch 64, ImageNet weights with a 10x learning rate on the new layers.
ImageNet: see docs/training.md (manual download of ILSVRC2012_img_{train,val}.tar).

    camjax train --config experiments/configs/ilsvrc_googlenet_gmp.py --workdir runs/googlenet_gmp

Multi-host (on each host i of N): CAMJAX_COORDINATOR=host0:1234 CAMJAX_NUM_PROCESSES=N \
CAMJAX_PROCESS_ID=i camjax train ... (TPU pods: --config.distributed=True). On GPUs or
TPUs add --config.compute_dtype=bfloat16. Weights: $CAMJAX_WEIGHTS_DIR (default ./weights).
"""
import os
import sys

import ml_collections

sys.path.insert(0, os.path.dirname(__file__))
import default  # noqa: E402
import paper  # noqa: E402


def get_config():
    c = default.get_config()
    paper.released_solver(c, "googlenet_gmp")
    c.pooling = "gmp"
    c.model_kwargs = ml_collections.ConfigDict({"transform_input": True})  # torchvision weights
    return paper.imagenet(c, augment="resize_crop")
