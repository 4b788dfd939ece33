"""KPCA-CAM (Karmani et al., 2024): Eigen-CAM with kernel PCA, as pytorch-grad-cam's
``KPCA_CAM``.

The layer's activations at the ``h w`` positions are centred over the positions (as
pytorch-grad-cam does before calling scikit-learn), and the map is their first kernel
principal component: with ``k(x, y)`` the kernel (``kernel``: ``"sigmoid"`` by default,
``tanh(gamma <x, y> + 1)``, or ``"linear"`` (Eigen-CAM exactly), ``"poly"``, ``"rbf"``,
``"cosine"``; ``gamma`` None is ``1 / K``, scikit-learn's default), the kernel matrix is
centred in feature space and the map is ``sqrt(l1) u1`` of its top eigenpair: what
``sklearn.decomposition.KernelPCA(n_components=1, kernel, gamma).fit_transform`` returns,
computed in JAX (:func:`camjax.methods.projection.kernel_first_component`; scikit-learn is
the test's reference), with its sign convention (the entry of largest magnitude
positive). One map per image, the same for every class; then a ReLU (``relu=False``
keeps it signed), as pytorch-grad-cam's ``BaseCAM``. The kernel matrix is (h w)^2 per
image: 50 MB in float32 at 56 x 56.
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.methods.base import layer_activations
from camjax.methods.eigencam import per_class
from camjax.methods.projection import KERNELS, kernel_first_component
from camjax.methods.registry import register


@register("kpca_cam", resolution="features",
          options={"kernel": "sigmoid", "gamma": None, "relu": True})
@partial(jax.jit, static_argnames=("graphdef", "layer", "kernel", "gamma", "relu"))
def kpca_cam_fn(graphdef, state, images, classes, *, layer=None, kernel: str = "sigmoid",
                gamma: float | None = None, relu: bool = True):
    """KPCA-CAM (pytorch-grad-cam): the activations' first kernel principal component."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    _, activations = layer_activations(graphdef, state, images, layer)
    maps = per_class(kernel_first_component(activations, kernel, gamma), classes)
    return jax.nn.relu(maps) if relu else maps
