"""HiResCAM (Draelos & Carin, 2020): the gradient times the activation, element-wise.

``map(i, j) = ReLU(sum_K g_K(i, j) A_K(i, j))`` with ``g = d logit_c / d A`` at the layer:
Grad-CAM without the spatial average of the gradient. Each position keeps its own
gradient, so the map shows where the score came from: summed over the positions (without
the ReLU) it is ``sum_ij g A``, which for a network whose score is linear in the features
after global average pooling (CAM's architecture) is the logit less the bias, and the map
itself is then the CAM divided by ``h w`` (the paper's equivalence; ``relu=False`` keeps the
signed map, as the paper defines it; the ReLU is pytorch-grad-cam's, whose ``BaseCAM``
rectifies every map). pytorch-grad-cam's ``hirescam.py`` computes the same; it warns that
``eigen_smooth`` voids the paper's faithfulness guarantee, and that holds here too.
"""
from __future__ import annotations

from camjax.methods.base import gradient_method
from camjax.methods.registry import register


@register("hires_cam", resolution="features", options={"relu": True})
@gradient_method
def hires_cam_fn(activations, grads):
    """HiResCAM (Draelos & Carin 2020): gradient x activation per position, summed over channels."""
    return grads
