"""The base of experiments/wsol_methods.py: the ablation base (tiny_gap on camjax_shapes)
at 450 steps with the paper solver's 10x rate on the new layers (the CAM conv and the
classifier), so that its 25 trainings (every method's grid on the first seed, the chosen
value on the other seeds) fit the 90 minutes the comparison may take on 2 CPU cores.

Why the 10x rate: without it tiny_gap's GAP stays at chance for the first ~250 steps
(loss 2.28 at step 250, measured); with it the loss leaves chance near step 150 and is
0.9 at step 400 (experiments/results/gap_vs_gmp/FINDINGS.md has the why).

    .venv/bin/python experiments/wsol_methods.py        # this config by default
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))   # ablation_shapes.py, beside this file
import ablation_shapes  # noqa: E402


def get_config():
    c = ablation_shapes.get_config()   # tiny_gap, GAP, 112 px, batch 64, lr 0.05 cosine
    c.num_train_steps = 450
    c.warmup_steps = 25
    c.new_layer_lr_mult = 10.0
    c.checkpoint_every_steps = 450
    return c
