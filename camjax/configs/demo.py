"""The demo: tiny_gap (GAP) on the built-in camjax_shapes dataset, 2 CPU cores, minutes.

    camjax demo --workdir demo_out
    camjax train --config demo --workdir demo_out      # the same, by its packaged name
"""
from camjax.configs import default


def get_config():
    c = default.get_config()
    c.model = "tiny_gap"
    c.pooling = "gap"
    c.image_size = 112
    c.batch_size = 64
    c.num_train_steps = 900
    c.learning_rate = 0.05
    c.lr_schedule = "cosine"
    c.warmup_steps = 100
    c.log_every_steps = 25
    c.checkpoint_every_steps = 500
    c.val_split = "val"               # the CAM threshold is chosen on val, then applied to test
    return c
