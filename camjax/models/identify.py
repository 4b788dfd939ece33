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
# (blocks per layer, layer1 width, groups of its 3x3 conv) -> name
_RESNET_BOTTLENECK = {((3, 4, 6, 3), 64, 1): "resnet50", ((3, 4, 23, 3), 64, 1): "resnet101",
                      ((3, 8, 36, 3), 64, 1): "resnet152",
                      ((3, 4, 6, 3), 128, 32): "resnext50_32x4d",
                      ((3, 4, 23, 3), 256, 32): "resnext101_32x8d",
                      ((3, 4, 23, 3), 256, 64): "resnext101_64x4d",
                      ((3, 4, 6, 3), 128, 1): "wide_resnet50_2",
                      ((3, 4, 23, 3), 128, 1): "wide_resnet101_2"}
# (blocks per stage, channels of the last conv) -> name
_EFFICIENTNETS = {((1, 2, 2, 3, 3, 4, 1), 1280): "efficientnet_b0",
                  ((2, 3, 3, 4, 4, 5, 2), 1280): "efficientnet_b1",
                  ((2, 3, 3, 4, 4, 5, 2), 1408): "efficientnet_b2",
                  ((2, 3, 3, 5, 5, 6, 2), 1536): "efficientnet_b3",
                  ((2, 4, 4, 6, 6, 8, 2), 1792): "efficientnet_b4",
                  ((3, 5, 5, 7, 7, 9, 3), 2048): "efficientnet_b5",
                  ((3, 6, 6, 8, 8, 11, 3), 2304): "efficientnet_b6",
                  ((4, 7, 7, 10, 10, 13, 4), 2560): "efficientnet_b7",
                  ((2, 4, 4, 6, 9, 15), 1280): "efficientnet_v2_s",
                  ((3, 5, 5, 7, 14, 18, 5), 1280): "efficientnet_v2_m",
                  ((4, 7, 7, 10, 19, 25, 7), 1280): "efficientnet_v2_l"}
# (Y: has squeeze-and-excitation, width of the last stage) -> name
_REGNETS = {**{(True, w): f"regnet_y_{size}" for w, size in (
    (440, "400mf"), (784, "800mf"), (888, "1_6gf"), (1512, "3_2gf"), (2016, "8gf"),
    (3024, "16gf"), (3712, "32gf"), (7392, "128gf"))},
    **{(False, w): f"regnet_x_{size}" for w, size in (
        (400, "400mf"), (672, "800mf"), (912, "1_6gf"), (1008, "3_2gf"), (1920, "8gf"),
        (2048, "16gf"), (2520, "32gf"))}}
# width of the last stack -> name
_MNASNETS = {160: "mnasnet0_5", 240: "mnasnet0_75", 320: "mnasnet1_0", 416: "mnasnet1_3"}
_MOBILENET_V3 = {12: "mobilenet_v3_small", 16: "mobilenet_v3_large"}
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
    if "layer1.0.conv3.weight" not in state:
        return _RESNET_BASIC.get(blocks, f"a ResNet with basic blocks {blocks}, which camjax "
                                         "does not build")
    width, per_group = (_shape(state, f"layer1.0.{conv}.weight")[:2] for conv in
                        ("conv1", "conv2"))
    width = width[0] if width else 0
    groups = width // per_group[1] if len(per_group) == 2 and per_group[1] else 0
    return _RESNET_BOTTLENECK.get((blocks, width, groups), (
        f"a ResNet with bottleneck blocks {blocks} and layer1 width {width} in {groups} "
        "groups, which camjax does not build"))


def _efficientnet(state: Mapping, names) -> str:
    stages = sorted(_indices(names, r"features\.(\d+)\.\d+\.block\."))
    blocks = tuple(len(_indices(names, rf"features\.{i}\.(\d+)\.block\.")) for i in stages)
    last = _shape(state, f"features.{max(stages) + 1}.0.weight")[:1] if stages else ()
    return _EFFICIENTNETS.get((blocks, last[0] if last else 0),
                              f"an EfficientNet with {blocks} blocks per stage")


def _regnet(state: Mapping, names) -> str:
    y = any(".f.se." in n for n in names)
    width = _shape(state, "fc.weight")[1:]
    return _REGNETS.get((y, width[0] if width else 0),
                        f"a RegNet{'Y' if y else 'X'} of final width {width}")


def _mnasnet(state: Mapping) -> str:
    last = _shape(state, "layers.13.0.layers.6.weight")[:1]
    name = _MNASNETS.get(last[0] if last else 0, "an MNASNet of another width")
    stem = _shape(state, "layers.0.weight")[:1]
    if name in ("mnasnet0_5", "mnasnet0_75") and stem == (32,):
        return (f"{name} saved before torchvision's MNASNet version 2 (its stem at width 1.0),"
                " which camjax does not build")
    return name


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
    """``"resnet18"``, ``"resnext50_32x4d"``, ``"efficientnet_b0"``, ``"regnet_y_400mf"``,
    ``"convnext_tiny"``, ``"vit_b_16"``, ... or a short description; ``None`` when the names
    match no family camjax knows."""
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
    if any(re.match(r"features\.\d+\.\d+\.block\.", n) for n in names):
        return _efficientnet(state, names)
    if any(re.match(r"features\.\d+\.block\.", n) for n in names):
        last = max(_indices(names, r"features\.(\d+)\."))
        return _MOBILENET_V3.get(last, f"a MobileNetV3 with {last + 1} feature layers")
    if "trunk_output.block1.block1-0.f.a.0.weight" in state:
        return _regnet(state, names)
    if "layers.8.0.layers.0.weight" in state:
        return _mnasnet(state)
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
