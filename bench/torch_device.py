"""The PyTorch side of the benches on any device: CUDA when there is one (timed with
``torch.cuda.synchronize()``), channels-last and bf16 autocast as options."""
from __future__ import annotations

import contextlib


def pick(name: str = "auto"):
    """``torch.device``: ``auto`` is CUDA when available, else the CPU."""
    import torch
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        torch.backends.cudnn.benchmark = True     # the fastest algorithms for fixed shapes
    return torch.device(name)


def sync(device) -> None:
    """Wait for the device's queued work (a no-op on the CPU, where PyTorch is eager)."""
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device, bf16: bool):
    """bf16 autocast on ``device`` when asked (forward passes in bf16, as AMP trains)."""
    import torch
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def place(module_or_tensor, device, channels_last: bool):
    """Move to ``device``; 4-D tensors and modules in channels-last memory when asked."""
    import torch
    if channels_last and (not isinstance(module_or_tensor, torch.Tensor)
                          or module_or_tensor.ndim == 4):
        return module_or_tensor.to(device, memory_format=torch.channels_last)
    return module_or_tensor.to(device)


def describe(device, bf16: bool, channels_last: bool) -> str:
    import torch
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU, {torch.get_num_threads()} threads")
    return (f"PyTorch {torch.__version__} on {where}"
            f"{', bf16 autocast' if bf16 else ''}{', channels-last' if channels_last else ''}")


@contextlib.contextmanager
def exact():
    """float32 as float32 on both sides while results are compared: no TF32 in PyTorch's
    CUDA matmuls and convolutions, JAX's matmuls at ``highest`` precision (on a CPU
    these are the defaults already). Timed runs use each library's defaults."""
    import jax
    import torch
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with jax.default_matmul_precision("highest"):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
