"""The CAM family: ``camjax.methods.<name>(model, images, classes, **options) -> (B, k, h, w)``.

Feature resolution, raw (each with the ReLU its definition applies, none for ``cam``):
``cam``, ``grad_cam``, ``grad_cam_plus_plus``, ``score_cam``, ``layer_cam``. Image
resolution: ``saliency``, ``smooth_grad``, ``integrated_gradients``. ``classes`` is (B, k)
or (B,) integers; ``model`` any camjax network (``(logits, features)`` and ``model.head``).

Each method also has a pure form, ``PURE_METHODS[name](graphdef, state, images, classes,
**options)`` over ``nnx.split(model)``, for use inside a jitted function (a training loss,
an evaluation step). A batch sharded along ``data`` stays sharded. For WSOL metrics::

    method = camjax.methods.get(name)
    maps = method(model, images, classes)                       # (B, k, h, w)
    maps = camjax.cam.upsample(maps, images.shape[1:3])         # identity at image size
    maps = camjax.cam.normalize(maps)                           # [0, 1]

See docs/methods.md.
"""
from camjax.errors import did_you_mean
from camjax.methods import base
from camjax.methods.backprop import input_gradients, input_gradients_fn, saliency, saliency_fn
from camjax.methods.classifier import cam, cam_fn
from camjax.methods.gradcam import grad_cam, grad_cam_fn
from camjax.methods.gradcampp import grad_cam_plus_plus, grad_cam_plus_plus_fn
from camjax.methods.integrated import integrated_gradients, integrated_gradients_fn
from camjax.methods.layercam import layer_cam, layer_cam_fn
from camjax.methods.scorecam import score_cam, score_cam_fn
from camjax.methods.smoothgrad import smooth_grad, smooth_grad_fn

METHODS = {"cam": cam, "grad_cam": grad_cam, "grad_cam_plus_plus": grad_cam_plus_plus,
           "score_cam": score_cam, "layer_cam": layer_cam, "saliency": saliency,
           "smooth_grad": smooth_grad, "integrated_gradients": integrated_gradients}
PURE_METHODS = {"cam": cam_fn, "grad_cam": grad_cam_fn,
                "grad_cam_plus_plus": grad_cam_plus_plus_fn, "score_cam": score_cam_fn,
                "layer_cam": layer_cam_fn, "saliency": saliency_fn,
                "smooth_grad": smooth_grad_fn, "integrated_gradients": integrated_gradients_fn}
IMAGE_RESOLUTION = frozenset({"saliency", "smooth_grad", "integrated_gradients"})


def get(name: str):
    """The method ``name``: ``method(model, images, classes, **options) -> (B, k, h, w)``."""
    if name not in METHODS:
        raise ValueError(f"unknown map method {name!r}; available: {', '.join(METHODS)}"
                         f"{did_you_mean(name, METHODS)}")
    return METHODS[name]


def get_pure(name: str):
    """The pure form of ``name``: ``fn(graphdef, state, images, classes, **options)``."""
    get(name)
    return PURE_METHODS[name]


def at_image_resolution(name: str) -> bool:
    """True for the pixel-space methods (maps already (B, k, H, W))."""
    get(name)
    return name in IMAGE_RESOLUTION


__all__ = ["METHODS", "PURE_METHODS", "IMAGE_RESOLUTION", "get", "get_pure",
           "at_image_resolution", "base", "cam", "grad_cam", "grad_cam_plus_plus", "score_cam",
           "layer_cam", "saliency", "smooth_grad", "integrated_gradients", "input_gradients",
           "cam_fn", "grad_cam_fn", "grad_cam_plus_plus_fn", "score_cam_fn", "layer_cam_fn",
           "saliency_fn", "smooth_grad_fn", "integrated_gradients_fn", "input_gradients_fn"]
