"""The ablation base: tiny_gap on the built-in camjax_shapes, sized for 2 CPU cores.

Shorter than the demo (500 steps x 64 images, ~3-6 min a model on 2 shared CPU
cores) so that every ablation of experiments/run_all.py fits about an hour. GAP vs GMP
uses gap_vs_gmp_shapes.py on top of this (a recipe under which GMP trains too).

    .venv/bin/python experiments/run_all.py
    .venv/bin/python experiments/gap_vs_gmp.py --config experiments/configs/ablation_shapes.py

At ImageNet / CUB scale pass another config instead, e.g.
``--config experiments/configs/ilsvrc_vgg16_gap.py`` (the scripts only override
``pooling``, ``seed`` and ``model_kwargs`` of whatever config they are given).
"""
from camjax.configs import demo


def get_config():
    c = demo.get_config()             # tiny_gap, GAP, 112 px, batch 64, lr 0.05 cosine
    c.num_train_steps = 500
    c.warmup_steps = 50
    c.log_every_steps = 50
    c.checkpoint_every_steps = 500
    c.keep_checkpoints = 1
    return c
