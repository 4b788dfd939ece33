"""The WSOL methods' network side (wsolevaluation, Choe et al., CVPR 2020): ADL's layer,
ACoL's two branches, SPG's guidance branches, the few-shot foreground head, and the
:class:`WsolNetwork` mixin of the networks that host them (tiny_gap, vgg16_gap,
resnet50_gap, inception_v3_gap)."""
from camjax.models.wsol import acol, adl, spg  # noqa: F401
from camjax.models.wsol.adl import ADL
from camjax.models.wsol.network import NETWORK_METHODS, MapHead, WsolNetwork

__all__ = ["ADL", "MapHead", "NETWORK_METHODS", "WsolNetwork", "acol", "adl", "spg"]
