"""Plain PyTorch re-implementation of torchvision's Swin Transformer v1 (``swin_t``,
``swin_s``, ``swin_b``) with its module and parameter names exactly (``features.1.0.attn.
relative_position_bias_table``, ``features.2.reduction.weight``, ``head.bias``, ...), written
from torchvision's ``shifted_window_attention``: pad to multiples of the window, no shift
along an axis the window covers (decided per call, on a copy of the shift), cyclic shift,
windows, relative position bias, the -100 mask between the shifted regions built by slicing
the padded grid, reverse shift, crop. ``relative_position_index`` is a buffer, as in
torchvision's state dicts.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SWINS = {"swin_t": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
         "swin_s": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
         "swin_b": (128, (2, 2, 18, 2), (4, 8, 16, 32))}


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class ShiftedWindowAttention(nn.Module):
    def __init__(self, dim, window, shift, heads):
        super().__init__()
        self.window, self.shift, self.num_heads = window, shift, heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                            indexing="ij")).flatten(1)   # 2, w*w
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index",
                             (rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]).flatten())

    def forward(self, x):
        b, h, w, c = x.shape
        ws, shift = self.window, list(self.shift)
        x = F.pad(x, (0, 0, 0, (ws - w % ws) % ws, 0, (ws - h % ws) % ws))
        _, ph, pw, _ = x.shape
        if ws >= ph:
            shift[0] = 0
        if ws >= pw:
            shift[1] = 0
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        n_windows = (ph // ws) * (pw // ws)
        x = x.view(b, ph // ws, ws, pw // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(b * n_windows, ws * ws, c)
        q, k, v = self.qkv(x).reshape(x.size(0), x.size(1), 3, self.num_heads,
                                      c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // self.num_heads) ** -0.5) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index]
        attn = attn + bias.view(ws * ws, ws * ws, -1).permute(2, 0, 1)[None]
        if sum(shift) > 0:
            mask = x.new_zeros((ph, pw))
            count = 0
            for hs in ((0, -ws), (-ws, -shift[0]), (-shift[0], None)):
                for wsl in ((0, -ws), (-ws, -shift[1]), (-shift[1], None)):
                    mask[hs[0]:hs[1], wsl[0]:wsl[1]] = count
                    count += 1
            mask = mask.view(ph // ws, ws, pw // ws, ws).permute(0, 2, 1, 3)
            mask = mask.reshape(n_windows, ws * ws)
            mask = mask[:, None, :] - mask[:, :, None]
            mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
            attn = attn.view(b, n_windows, self.num_heads, ws * ws, ws * ws) + mask[None, :, None]
            attn = attn.view(-1, self.num_heads, ws * ws, ws * ws)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(x.size(0), x.size(1), c)
        x = self.proj(x).view(b, ph // ws, pw // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(b, ph, pw, c)
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
        return x[:, :h, :w].contiguous()


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, heads, window, shift):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = ShiftedWindowAttention(dim, window, shift, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(4 * dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=1e-5)

    def forward(self, x):
        x = F.pad(x, (0, 0, 0, x.shape[2] % 2, 0, x.shape[1] % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                       x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))


class SwinTransformer(nn.Module):
    def __init__(self, name, depths=None, num_classes=1000, window=7):
        super().__init__()
        dim, default_depths, heads = SWINS[name]
        depths = depths or default_depths
        layers = [nn.Sequential(nn.Conv2d(3, dim, 4, stride=4), Permute([0, 2, 3, 1]),
                                nn.LayerNorm(dim, eps=1e-5))]
        for stage, (depth, n_heads) in enumerate(zip(depths, heads)):
            width = dim * 2 ** stage
            layers.append(nn.Sequential(*[
                SwinTransformerBlock(width, n_heads, window,
                                     [0, 0] if i % 2 == 0 else [window // 2] * 2)
                for i in range(depth)]))
            if stage < len(depths) - 1:
                layers.append(PatchMerging(width))
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(width, eps=1e-5)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(width, num_classes)

    @property
    def classifier_weight(self):
        return self.head.weight

    def logits_and_features(self, x):
        features = self.permute(self.norm(self.features(x)))  # NCHW, the CAM's maps
        return self.head(self.flatten(self.avgpool(features))), features

    def forward(self, x):
        return self.logits_and_features(x)[0]
