"""Plain PyTorch re-implementations of torchvision's ViT (``vit_b_16``, ``vit_b_32``,
``vit_l_16``) and Swin (``swin_t/s/b``) and timm's DeiT (``deit_small/base_patch16_224``),
whole, with their module and parameter names exactly (neither torchvision nor timm can be
imported here); the companion of ``torch_classifiers``.

Written from the sources' arithmetic: torchvision's ``EncoderBlock`` with
``nn.MultiheadAttention``, timm's ``Attention`` (packed qkv, manual softmax), torchvision's
``shifted_window_attention`` (padding, cyclic shift, the -100 region mask, relative position
bias) and ``PatchMerging``. At an input size other than the native one, the ViTs add position
embeddings resampled as timm's ``resample_abs_pos_embed`` does (``F.interpolate``, bicubic,
antialias), the class token's kept. ``logits_and_features(x)`` returns the logits and the CAM
features (NCHW for Swin: ``norm``'s output; the last block's first LayerNorm's patch tokens
for the ViTs, as an NHWC grid); ``activation_and_gradient`` is the hook-based Grad-CAM input
of pytorch-grad-cam users (a named module's output and the gradient of a class logit there).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def resample_pos_embed(pos, grid, prefix=1):
    """timm's rule: the patch rows of (1, prefix + n*n, D) bicubic-resampled (antialias) to
    ``grid``; the native grid is returned unchanged."""
    n = int(math.isqrt(pos.shape[1] - prefix))
    if tuple(grid) == (n, n):
        return pos
    patches = pos[:, prefix:].reshape(1, n, n, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=tuple(grid), mode="bicubic", antialias=True)
    return torch.cat([pos[:, :prefix], patches.permute(0, 2, 3, 1).flatten(1, 2)], dim=1)


def tokens_to_grid(tokens, grid):
    """(B, 1 + h*w, D) -> (B, h, w, D), the class token dropped."""
    return tokens[:, 1:].reshape(tokens.shape[0], *grid, tokens.shape[-1])


# --- torchvision's ViT ------------------------------------------------------------------

class EncoderBlock(nn.Module):
    def __init__(self, heads, dim, mlp_dim):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(0.0))

    def forward(self, inputs):
        x = self.ln_1(inputs)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + inputs
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq_length, layers, heads, dim, mlp_dim):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, dim).normal_(std=0.02))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(heads, dim, mlp_dim)) for i in range(layers)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, inputs, grid):
        return self.ln(self.layers(self.dropout(
            inputs + resample_pos_embed(self.pos_embedding, grid))))


VITS = {"vit_b_16": (16, 12, 12, 768, 3072), "vit_b_32": (32, 12, 12, 768, 3072),
        "vit_l_16": (16, 24, 16, 1024, 4096)}


class VisionTransformer(nn.Module):
    def __init__(self, name, num_layers=None, image_size=224, num_classes=1000):
        super().__init__()
        patch, layers, heads, dim, mlp_dim = VITS[name]
        self.patch_size, self.hidden_dim = patch, dim
        self.conv_proj = nn.Conv2d(3, dim, patch, stride=patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder = Encoder((image_size // patch) ** 2 + 1, num_layers or layers, heads,
                               dim, mlp_dim)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(dim, num_classes)))
        self.features_layer = f"encoder.layers.encoder_layer_{len(self.encoder.layers) - 1}.ln_1"

    def grid(self, x):
        return x.shape[2] // self.patch_size, x.shape[3] // self.patch_size

    def forward(self, x):
        grid = self.grid(x)
        x = self.conv_proj(x).reshape(x.shape[0], self.hidden_dim, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x, grid)[:, 0])

    def logits_and_features(self, x):
        logits, activation = forward_with_hook(self, x, self.features_layer)
        return logits, tokens_to_grid(activation, self.grid(x))


# --- timm's DeiT ------------------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.num_heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attn = ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 16, stride=16)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


DEITS = {"deit_small_patch16_224": (12, 6, 384), "deit_base_patch16_224": (12, 12, 768)}


class DeiT(nn.Module):
    patch_size = 16

    def __init__(self, name, depth=None, num_classes=1000):
        super().__init__()
        layers, heads, dim = DEITS[name]
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 197, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth or layers)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        self.features_layer = f"blocks.{len(self.blocks) - 1}.norm1"

    grid = VisionTransformer.grid

    def forward(self, x):
        grid = self.grid(x)
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + resample_pos_embed(self.pos_embed, grid)
        return self.head(self.norm(self.blocks(x))[:, 0])

    logits_and_features = VisionTransformer.logits_and_features


def forward_with_hook(net, x, layer):
    """(logits, the output of the module named ``layer``), by a forward hook."""
    seen = {}

    def keep(_module, _inputs, output):
        seen["out"] = output[0] if isinstance(output, tuple) else output

    handle = dict(net.named_modules())[layer].register_forward_hook(keep)
    try:
        logits = net(x)
    finally:
        handle.remove()
    return logits, seen["out"]


def activation_and_gradient(net, x, layer, classes):
    """A ViT's named layer as pytorch-grad-cam sees it: its output and the gradient of
    ``sum_b logits[b, classes[b]]`` there, both as (B, h, w, D) grids, class token dropped."""
    seen = {}

    def keep(_module, _inputs, output):
        output = output[0] if isinstance(output, tuple) else output
        output.retain_grad()
        seen["out"] = output

    handle = dict(net.named_modules())[layer].register_forward_hook(keep)
    try:
        logits = net(x)
    finally:
        handle.remove()
    logits[torch.arange(len(classes)), torch.as_tensor(classes)].sum().backward()
    grid = net.grid(x)
    return (tokens_to_grid(seen["out"].detach(), grid),
            tokens_to_grid(seen["out"].grad, grid), logits.detach())
