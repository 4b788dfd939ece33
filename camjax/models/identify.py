"""Which torchvision (or timm) network a state dict holds, from its names and shapes alone.

Used in ``load_pretrained``'s errors: "the file looks like resnet18" tells a user that the
file and ``--model`` disagree, and which one to use.
"""
from __future__ import annotations

import math
import re
from typing import Mapping

import numpy as np

# blocks per layer -> depth, for torchvision's BasicBlock and Bottleneck ResNets
_RESNET_BASIC = {(2, 2, 2, 2): "resnet18", (3, 4, 6, 3): "resnet34"}
_RESNET_BOTTLENECK = {(3, 4, 6, 3): "resnet50", (3, 4, 23, 3): "resnet101",
                      (3, 8, 36, 3): "resnet152"}
# (growth rate, layers per block) -> name
_DENSENETS = {(32, (6, 12, 24, 16)): "densenet121", (48, (6, 12, 36, 24)): "densenet161",
              (32, (6, 12, 32, 32)): "densenet169", (32, (6, 12, 48, 32)): "densenet201"}
# number of 3x3 convs in ``features`` -> name
_VGGS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}
# ShuffleNet V2: stage2's width -> name
_SHUFFLENETS = {48: "shufflenet_v2_x0_5", 116: "shufflenet_v2_x1_0", 176: "shufflenet_v2_x1_5",
                244: "shufflenet_v2_x2_0"}
# SqueezeNet: the first conv's (out, in, kh, kw) -> name
_SQUEEZENETS = {(96, 3, 7, 7): "squeezenet1_0", (64, 3, 3, 3): "squeezenet1_1"}
# ConvNeXt: (stem width, blocks in the third stage) -> name
_CONVNEXTS = {(96, 9): "convnext_tiny", (96, 27): "convnext_small", (128, 27): "convnext_base",
              (192, 27): "convnext_large"}
# transformers: (patch, layers, width) / (patch, depth, width) / (width, depths) -> name
_TORCHVISION_VITS = {(16, 12, 768): "vit_b_16", (32, 12, 768): "vit_b_32",
                     (16, 24, 1024): "vit_l_16", (32, 24, 1024): "vit_l_32",
                     (14, 32, 1280): "vit_h_14"}
_TIMM_VITS = {(16, 12, 384): "deit_small_patch16_224", (16, 12, 768): "deit_base_patch16_224"}
_SWINS = {(96, (2, 2, 6, 2)): "swin_t", (96, (2, 2, 18, 2)): "swin_s",
          (128, (2, 2, 18, 2)): "swin_b"}
_BUILT = {"vit_b_16", "vit_b_32", "vit_l_16"}


def _indices(names, pattern: str) -> set[int]:
    """The distinct integers that ``pattern``'s first group matches at the start of names."""
    return {int(m[1]) for n in names if (m := re.match(pattern, n))}


def _shape(state: Mapping, name: str) -> tuple:
    return tuple(np.shape(state[name])) if name in state else ()


def _resnet(state: Mapping) -> str:
    blocks = tuple(len(_indices(state, rf"layer{i}\.(\d+)\.")) for i in range(1, 5))
    bottleneck = "layer1.0.conv3.weight" in state
    name = (_RESNET_BOTTLENECK if bottleneck else _RESNET_BASIC).get(blocks)
    width = _shape(state, "layer1.0.conv1.weight")[:1]
    if name and (not bottleneck or width == (64,)):
        return name
    kind = "bottleneck" if bottleneck else "basic"
    return (f"a ResNet with {kind} blocks {blocks} and layer1 width {width[0] if width else '?'}"
            " (a ResNeXt or wide ResNet?), which camjax does not build")


def _densenet(state: Mapping) -> str:
    blocks = tuple(len(_indices(state, rf"features\.denseblock{i}\.denselayer(\d+)\."))
                   for i in range(1, 5))
    conv2 = [v for k, v in state.items()
             if re.fullmatch(r"features\.denseblock1\.denselayer1\.conv\.?2\.weight", k)]
    growth = int(np.shape(conv2[0])[0]) if conv2 else 0
    return _DENSENETS.get((growth, blocks),
                          f"a DenseNet with growth {growth} and blocks {blocks}")


def _shufflenet(state: Mapping) -> str:
    width = 2 * _shape(state, "stage2.0.branch2.0.weight")[0]  # two branches of half width
    return _SHUFFLENETS.get(width, f"a ShuffleNet V2 with stage2 width {width}")


def _convnext(state: Mapping) -> str:
    key = (_shape(state, "features.0.0.weight")[0],
           len(_indices(state, r"features\.5\.(\d+)\.layer_scale")))
    return _CONVNEXTS.get(key, f"a ConvNeXt with stem width {key[0]} and {key[1]} blocks in "
                               "its third stage")


def _family(state: Mapping) -> str | None:
    """The families identified by a name only they have (before the generic checks below,
    which some of their names would also match)."""
    if "Mixed_5b.branch1x1.conv.weight" in state:
        return "inception_v3"
    if "stage2.0.branch2.0.weight" in state:
        return _shufflenet(state)
    if "features.3.squeeze.weight" in state:
        shape = _shape(state, "features.0.weight")
        return _SQUEEZENETS.get(shape, f"a SqueezeNet with first conv {shape}")
    if "features.1.0.layer_scale" in state:
        return _convnext(state)
    return None


def _torchvision_vit(state: Mapping) -> str:
    dim, _, patch, _ = _shape(state, "conv_proj.weight")
    layers = len(_indices(state, r"encoder\.layers\.encoder_layer_(\d+)\."))
    name = _TORCHVISION_VITS.get((patch, layers, dim))
    if name is None:
        return f"a torchvision ViT with patch {patch}, {layers} layers and width {dim}"
    tokens = _shape(state, "encoder.pos_embedding")[1:2]
    size = math.isqrt(tokens[0] - 1) * patch if tokens else 224
    if size != 224:  # e.g. the SWAG weights, fine-tuned at 384 or 512
        name += f" at {size} (image_size={size})"
    return name if name.split()[0] in _BUILT else name + ", which camjax does not build"


def _timm_vit(state: Mapping) -> str:
    if "dist_token" in state:
        return "a distilled DeiT (deit_*_distilled_*), which camjax does not build"
    dim, _, patch, _ = _shape(state, "patch_embed.proj.weight")
    depth = len(_indices(state, r"blocks\.(\d+)\."))
    name = _TIMM_VITS.get((patch, depth, dim))
    if name is None:
        return (f"a timm ViT with width {dim}, depth {depth} and patch {patch}, which camjax "
                "does not build")
    return f"{name} (or timm's {name.replace('deit', 'vit')}, the same layout)"


def _swin(state: Mapping) -> str:
    if any(".cpb_mlp." in n for n in state):
        return "a Swin V2 (swin_v2_*), which camjax does not build"
    dim = _shape(state, "features.0.0.weight")[0]
    depths = tuple(len(_indices(state, rf"features\.{s}\.(\d+)\.")) for s in (1, 3, 5, 7))
    return _SWINS.get((dim, depths), f"a Swin with width {dim} and depths {depths}")


def identify_architecture(state: Mapping[str, object]) -> str | None:
    """``"resnet18"``, ``"densenet121"``, ``"mobilenet_v2"``, ``"vit_b_16"``, ... or a short
    description; ``None`` when the names match no family camjax knows."""
    names = list(state)
    if family := _family(state):
        return family
    if "conv_proj.weight" in state and "encoder.pos_embedding" in state:
        return _torchvision_vit(state)
    if "patch_embed.proj.weight" in state and "blocks.0.attn.qkv.weight" in state:
        return _timm_vit(state)
    if "features.0.0.weight" in state and any(".attn." in n for n in names):
        return _swin(state)
    if "conv1.0.weight" in state:
        return "a timm ResNet with a deep stem (resnet*c/d), which camjax does not build"
    if "layer1.0.conv1.weight" in state:
        return _resnet(state)
    if any(n.startswith("features.denseblock") for n in names):
        return _densenet(state)
    if "features.1.conv.0.0.weight" in state:
        last = max(_indices(names, r"features\.(\d+)\."))
        return "mobilenet_v2" if last == 18 else f"a MobileNetV2 with {last + 1} feature layers"
    if any(re.match(r"features\.\d+\.block\.", n) for n in names):
        return "a MobileNetV3 or EfficientNet, which camjax does not build"
    if "inception3a.branch1.conv.weight" in state:
        return "googlenet"
    if _shape(state, "features.0.weight")[1:] == (3, 11, 11):
        return "alexnet"
    if _shape(state, "features.0.weight")[1:] == (3, 3, 3):
        convs = [n for n in names if re.fullmatch(r"features\.\d+\.weight", n)
                 and len(_shape(state, n)) == 4]
        batch_norm = any(re.fullmatch(r"features\.\d+\.running_mean", n) for n in names)
        name = _VGGS.get(len(convs), f"a VGG with {len(convs)} convs")
        return name + "_bn" if batch_norm and name in _VGGS.values() else name
    return None


def looks_like(state: Mapping[str, object]) -> str:
    """The clause that errors end with."""
    guess = identify_architecture(state)
    if guess is None:
        return "the file matches none of the torchvision networks camjax knows"
    return f"the file looks like {guess}"
