"""The base of experiments/wsol_methods.py: the ablation base (tiny_gap on camjax_shapes)
at 250 steps, so that its 30 trainings (every method's grid on the first seed, the chosen
value on the other seeds) fit the 90 minutes the comparison may take on 2 CPU cores.

    .venv/bin/python experiments/wsol_methods.py        # this config by default
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # ablation_shapes.py, beside this file
import ablation_shapes  # noqa: E402


def get_config():
    c = ablation_shapes.get_config()   # tiny_gap, GAP, 112 px, batch 64, lr 0.05 cosine
    c.num_train_steps = 250
    c.warmup_steps = 25
    c.checkpoint_every_steps = 250
    return c
