"""AlexNet-GAP (paper section 3.1): AlexNet conv1..conv5, a 3x3 conv of 1024 units, GAP, softmax.

Released CAM solver (see paper.py): SGD momentum 0.9, wd 5e-4, lr 0.001 x0.1 every
40k iterations, batch 64, ImageNet weights with a 10x learning rate on the new layers.
ImageNet: see docs/training.md (manual download of ILSVRC2012_img_{train,val}.tar).

    camjax train --config experiments/configs/ilsvrc_alexnet_gap.py --workdir runs/alexnet_gap

Multi-host (on each host i of N): CAMJAX_COORDINATOR=host0:1234 CAMJAX_NUM_PROCESSES=N \
CAMJAX_PROCESS_ID=i camjax train ... (TPU pods: --config.distributed=True). On GPUs or
TPUs add --config.compute_dtype=bfloat16. Weights: $CAMJAX_WEIGHTS_DIR (default ./weights).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import default  # noqa: E402
import paper  # noqa: E402


def get_config():
    c = default.get_config()
    paper.released_solver(c, "alexnet_gap")
    c.pooling = "gap"
    return paper.imagenet(c, augment="resize_crop")
