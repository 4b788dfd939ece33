"""CAM (Zhou et al., CVPR 2016, eq. 2): the class weights of the dense layer after pooling.

``M[b, j] = sum_K W[K, classes[b, j]] f[b, :, :, K]`` with ``W = model.head.classifier.kernel``
(what ``camjax.models.class_weights`` returns): ``camjax.cam.class_activation_maps`` of the
network's features. Exact, no gradient, raw: the paper's map has no ReLU (negative
evidence stays negative; ``camjax.cam.normalize`` takes it to [0, 1]). The class columns
are selected by a one-hot contraction (base.class_columns) rather than
``class_activation_maps``' gather, so that a batch sharded on an explicit mesh works.
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.methods.base import class_columns, eval_model, on_model, weighted_sum
from camjax.models import class_weights


@partial(jax.jit, static_argnames=("graphdef",))
def cam_fn(graphdef, state, images, classes):
    """CAM (B, k, h, w) of ``classes`` (B, k) at the feature resolution, raw."""
    model = eval_model(graphdef, state)
    _, features = model(images)
    return weighted_sum(features, class_columns(class_weights(model), classes))


cam = on_model(cam_fn)
