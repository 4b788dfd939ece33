"""What the training loop does besides stepping: metric files, stop signals, sanity checks."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import numpy as np

from camjax import distributed
from camjax.errors import RunError
from camjax.signals import StopSignals


class NonFiniteLossError(RunError):
    """The loss or the gradient became NaN or infinite."""


class BadImageError(RunError):
    """A training image that does not decode (without ``config.skip_bad_images``)."""


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Keep the records of steps <= ``last_step``; drop later ones and a torn last line.

    On resume the dropped steps are trained again and logged again, identically.
    """
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:       # a line cut by a kill
            continue
        if isinstance(record, dict) and record.get("step", last_step + 1) <= last_step:
            keep.append(line)
    path.write_text("".join(line + "\n" for line in keep))


def _summary_writer_class():
    """tensorboardX's SummaryWriter, imported without torch: tensorboardX imports torch
    when it is installed (seconds and hundreds of MB) only to accept torch tensors; camjax
    logs Python floats."""
    if "torch" in sys.modules:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    sys.modules["torch"] = None          # makes `import torch` fail inside tensorboardX
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter


class MetricsWriter:
    """workdir/metrics.jsonl (one object per logged step) and TensorBoard events under
    workdir/tensorboard; process 0 only, a no-op elsewhere."""

    def __init__(self, workdir: Path, start_step: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        self.path = workdir / "metrics.jsonl"
        truncate_jsonl(self.path, start_step)
        truncate_jsonl(workdir / "eval_history.jsonl", start_step)
        SummaryWriter = _summary_writer_class()
        # purge_step: TensorBoard hides events of steps > start_step from the killed run
        self.tb = SummaryWriter(str(workdir / "tensorboard"),
                                purge_step=start_step + 1 if start_step else None)

    def write(self, record: dict, prefix: str = "train") -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)):
                self.tb.add_scalar(f"{prefix}/{key}", value, record["step"])
        self.tb.flush()

    def close(self) -> None:
        if self.enabled:
            self.tb.close()


class StopRequest(StopSignals):
    """SIGTERM / SIGINT (preemption, Ctrl-C) set a flag; the loop saves and returns.

    With several processes the flag is agreed on every ``check_every`` steps, so that all
    of them stop at the same step and write the checkpoint together even when only one
    got the signal. A second signal ends the process at once, without saving.
    """

    def __init__(self, check_every: int = 10):
        super().__init__()
        self.check_every = max(1, int(check_every))

    def should_stop(self, step: int, last: bool = False) -> bool:
        """Whether to stop after ``step`` (every process gets the same answer)."""
        if jax.process_count() == 1:
            return self.requested
        return (step % self.check_every == 0 or last) and distributed.any_process(self.requested)


def check_finite(pending: list[tuple[int, dict]]) -> None:
    """Raise NonFiniteLossError naming the first step whose loss or gradient norm is not
    finite. ``pending``: (step, metrics of device scalars) not yet checked."""
    if not pending:
        return
    values = jax.device_get([(m["loss"], m.get("grad_norm", 0.0)) for _, m in pending])
    for (step, _), (loss, grad_norm) in zip(pending, values):
        if not np.isfinite(loss) or not np.isfinite(grad_norm):
            what = f"loss {float(loss)}" if not np.isfinite(loss) else \
                f"gradient norm {float(grad_norm)} (loss {float(loss):.4g})"
            raise NonFiniteLossError(
                f"{what} at step {step}: training stopped, the checkpoints before this step "
                "are kept (lower --config.learning_rate, or check the data)")
