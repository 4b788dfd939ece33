"""GAP vs GMP's config trains both poolings under one recipe: a centred classifier input
and the 10x rate on exactly the CAM conv and the classifier; the other ablations and the
demo keep the plain recipe."""
from __future__ import annotations

import jax
from flax import nnx

from camjax import config as config_lib
from camjax.training import optim, state as state_lib
from tests.conftest import CONFIGS


def test_ablation_recipe_centres_gmp_and_speeds_up_the_new_layers():
    c = config_lib.load(CONFIGS / "gap_vs_gmp_shapes.py", {"pooling": "gmp"})
    model = nnx.eval_shape(lambda: state_lib.build_model(c, 12))
    assert model.pooled_mean is not None and model.pooled_mean.pooling == "gmp"
    params = nnx.state(model, nnx.Param)
    labels = jax.tree_util.tree_flatten_with_path(optim.param_labels(params))[0]
    groups = {}
    for path, label in labels:
        groups.setdefault(label, set()).add(str(path[0].key))
    assert groups == {"new": {"cam_conv", "head"}, "backbone": {"backbone"}}
    assert c.new_layer_lr_mult == 10.0 and c.learning_rate == 0.05
    for plain in (config_lib.load("demo"), config_lib.load(CONFIGS / "ablation_shapes.py")):
        assert "center_pooled" not in plain.model_kwargs and plain.new_layer_lr_mult == 1.0
