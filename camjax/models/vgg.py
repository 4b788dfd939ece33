"""VGGnet-GAP (paper section 3.1) on torchvision's VGG16 layout (no BatchNorm), and
wsolevaluation's VGG16 variants (Choe et al., CVPR 2020: ``wsol/vgg.py``).

conv1_1 .. conv5_3 with torchvision's ``features`` layout; pool5 and the classifier are
removed, so 14x14 maps at 224 (``mapping_resolution=28`` also removes pool4:
wsolevaluation's ``large_feature_map``). On top, as in the released model: the CAM conv
(3x3, 1024, ``cam_groups=2``; wsolevaluation's ``conv6`` has ``cam_groups=1``), global
pooling, dropout 0.5 and the dense layer (``classifier_bias``: wsolevaluation's ``fc``
has one).

WSOL methods (``wsol_method``, camjax.models.wsol), at wsolevaluation's positions:
``adl``: ADL after pool3, conv4_3 and conv5_3; ``acol``: every 2x2 pool a 3x3/2 pool
(pad 1), a 3x3/1 pool after conv5_3 (and instead of pool4 at 28x28), a 3x3 average pool,
then ``classifier_A`` / ``classifier_B`` (1024 wide) instead of the CAM conv and head;
``spg``: conv4_x then a 3x3/2 max pool (pad 1; none at 28x28) feed ``SPG_B_1a``, conv5_x
feeds ``SPG_B_2a``, two new 3x3 convs (``SPG_A_3``, 512) make the features of
``SPG_C`` and the head; ``fewshot``: the foreground head on the CAM conv's output.
"""
from __future__ import annotations

import jax
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.heads import CamConv
from camjax.models.registry import register
from camjax.models.wsol import WsolNetwork
from camjax.models.wsol.layers import avg_pool3, run, stack

# torchvision's configuration "D" without its last "M" (pool5): channels, "M" = max pool 2x2/2
CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
POOL_AFTER = (1, 3, 6, 9)       # conv indices followed by pool1 .. pool4
ADL_AFTER_POOL, ADL_AFTER_CONV = (6,), (9, 12)   # pool3; conv4_3 (before pool4), conv5_3

_he_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


@register("vgg16_gap")
class VGG16GAP(WsolNetwork, nnx.Module):
    """VGG16 conv1_1..conv5_3 (3x3, pad 1, ReLU), CAM conv (groups 2), pooling, dropout, dense."""
    features_layer = "cam_conv"

    def __init__(self, *, num_classes: int, pooling: str = "gap", dropout_rate: float = 0.5,
                 cam_channels: int = 1024, cam_groups: int = 2, classifier_bias: bool = False,
                 mapping_resolution: int = 14, wsol_method: str = "cam",
                 acol_threshold: float = 0.7, adl_drop_rate: float = 0.75,
                 adl_threshold: float = 0.9, rngs: nnx.Rngs):
        if mapping_resolution not in (14, 28):
            raise ValueError(f"mapping_resolution must be 14 or 28 (at 224), "
                             f"got {mapping_resolution!r}")
        self.large = mapping_resolution == 28
        convs, cin = [], 3
        for item in CFG:
            if item != "M":
                convs.append(nnx.Conv(cin, item, (3, 3), padding=1, kernel_init=_he_init,
                                      rngs=rngs))
                cin = item
        self.features = nnx.List(convs)
        cam = wsol_method not in ("acol", "spg")   # these two replace the CAM conv
        self.cam_conv = CamConv(cin, cam_channels, groups=cam_groups, rngs=rngs) if cam else None
        width = cam_channels if cam else cin
        if wsol_method == "spg":
            self.SPG_A_3 = stack((512, 512, 3), "relu", (512, 512, 3), "relu", rngs=rngs)
        self.init_wsol(wsol_method, num_classes=num_classes, pooling=pooling, features=width,
                       acol_input=cin, acol_threshold=acol_threshold,
                       spg_channels=(512, 512, 512, 512), adl_drop_rate=adl_drop_rate,
                       adl_threshold=adl_threshold, classifier_bias=classifier_bias,
                       dropout_rate=dropout_rate, rngs=rngs)

    def _pool(self, index: int, x: jax.Array) -> jax.Array:
        """The pool after conv ``index`` (one of POOL_AFTER) for this method."""
        last = index == POOL_AFTER[-1]
        if self.wsol_method == "acol":       # wsolevaluation's M1 (3x3/2) and M2 (3x3/1)
            return max_pool2d(x, 3, 1 if last and self.large else 2, 1)
        if self.wsol_method == "spg" and last:
            return x if self.large else max_pool2d(x, 3, 2, 1)
        return x if last and self.large else max_pool2d(x, 2, 2)

    def trunk(self, images: jax.Array) -> dict:
        taps, x = {}, images
        for index, conv in enumerate(self.features):
            x = jax.nn.relu(conv(x))
            if index in ADL_AFTER_CONV:
                x = self.maybe_adl(x)
            if index in POOL_AFTER:
                x = self._pool(index, x)
                if self.wsol_method == "spg" and index == POOL_AFTER[-1]:
                    taps["b1"] = x
            if index in ADL_AFTER_POOL:
                x = self.maybe_adl(x)
        if self.wsol_method == "acol":
            taps["features"] = avg_pool3(max_pool2d(x, 3, 1, 1))
        elif self.wsol_method == "spg":
            taps["b2"] = x
            taps["features"] = run(self.SPG_A_3, x)
        else:
            taps["features"] = self.cam_conv(x)
        return taps

    def backbone(self, images: jax.Array) -> jax.Array:
        """conv5_3 output after ReLU (B, h, w, 512): the part torchvision weights fill."""
        x, convs = images, iter(self.features)
        for item in CFG:
            x = max_pool2d(x, 2, 2) if item == "M" else jax.nn.relu(next(convs)(x))
        return x
