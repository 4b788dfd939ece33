"""CAM (Zhou et al., CVPR 2016, eq. 2): the class weights of the dense layer after pooling.

``M[b, j] = sum_K W[K, classes[b, j]] f[b, :, :, K]`` with ``W = model.cam_weights(f)``
(the classifier kernel for a pooling + linear head, ``camjax.models.class_weights``; per
image where the head normalises the pooled features, e.g. ConvNeXt): exactly
``camjax.cam.class_activation_maps`` of the network's features. Exact, no gradient, raw:
the paper's map has no ReLU (negative evidence stays negative; ``camjax.cam.normalize``
takes it to [0, 1]). Always the network's features: a network without an exact CAM
(MobileNetV3, ViT) refuses with its ``cam_weights``' :class:`camjax.errors.ModelError`.
A network whose class's exact map needs a forward pass of its own (ACoL erases by the class
it explains) says so with ``maps_by_class`` and gives them by ``class_maps(images,
classes)``.
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.cam import class_activation_maps
from camjax.methods.base import eval_model, features_of
from camjax.methods.registry import register
from camjax.models import class_weights


def cam_weights(model, features):
    """``model.cam_weights(features)`` ((K, C) or (B, K, C)), else the classifier kernel."""
    fn = getattr(model, "cam_weights", None)
    return fn(features) if callable(fn) else class_weights(model)


@register("cam", resolution="features", layer=False)
@partial(jax.jit, static_argnames=("graphdef",))
def cam_fn(graphdef, state, images, classes):
    """CAM (Zhou et al. 2016): the classifier's weights on the final features; exact, raw."""
    model = eval_model(graphdef, state)
    if getattr(model, "maps_by_class", False):
        return model.class_maps(images, classes)
    features = features_of(model, images)
    return class_activation_maps(features, cam_weights(model, features), classes)
