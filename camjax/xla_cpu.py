"""The XLA:CPU setting camjax applies when it is imported: YNNPACK's fusions off.

jaxlib 0.10's XLA:CPU hands convolutions, dots and elementwise / reduce fusions to
YNNPACK by default. On the x86 machine camjax is developed on (2 cores, AVX-512) XLA's
own kernels run the networks faster, on one thread and more so on two: ResNet-50's
forward pass at 224 px, batch 32, 18.6 -> 33 images/s on 2 cores (11.7 -> 15.5 on one);
VGG16-GAP forward + CAMs 1.23x; ViT-B/16 1.1x; the train step 1.2-1.6x on 2 cores
(BENCHMARKS.md, "Reading the numbers"). The convolution fusion is the costly one
(keeping only YNNPACK's dot fusion is as fast as all off; adding its elementwise and
reduce fusions is as slow as the default), and all off measured best on every network
tried. What loses: small tensors that YNNPACK's elementwise fusions served well (the map
methods on tiny_gap at 64 px, 10-20%; tiny_gap's train step at batch 16 on one core).
The sums are the same in another order: results equal to float rounding. XLA's own
kernel also lacks YNNPACK's cliff at convolutions of 3 input channels (tiny_gap's forward,
batch 128 at 64 px: 55.7 ms with YNNPACK, 32.6 ms with its RGB convolution fed a zero
fourth channel, 20.1 ms with XLA's kernels and 20.5 padded), so camjax no longer pads
RGB convolutions.

XLA reads ``XLA_FLAGS`` once, when JAX's CPU backend starts, so the flag takes effect only
when camjax is imported before the process's first JAX computation (the CLI, the
experiments and the benches do). The flag is not added:

- when ``XLA_FLAGS`` already sets ``--xla_cpu_experimental_ynn_fusion_type`` (the user's
  value wins);
- when ``CAMJAX_XLA_CPU_DEFAULTS=0`` (XLA's own default);
- with a jaxlib outside :data:`MEASURED`: XLA refuses to start on a flag it does not know,
  and an experimental flag may be renamed or its default changed in a later release.
"""
from __future__ import annotations

import os
from importlib import metadata

FLAG = "--xla_cpu_experimental_ynn_fusion_type"
YNN_FUSIONS_OFF = f"{FLAG}="
MEASURED = ("0.10.",)          # jaxlib release prefixes where the flag exists and was timed
OPT_OUT = "CAMJAX_XLA_CPU_DEFAULTS"


def _jaxlib_version() -> str | None:
    try:
        return metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return None


def apply_defaults(environ=os.environ, jaxlib_version: str | None = None) -> bool:
    """Put :data:`YNN_FUSIONS_OFF` at the front of ``environ["XLA_FLAGS"]`` unless the
    user set the flag, opted out or runs an unmeasured jaxlib; True if it was added."""
    flags = environ.get("XLA_FLAGS", "")
    if FLAG in flags or environ.get(OPT_OUT, "1") == "0":
        return False
    version = jaxlib_version if jaxlib_version is not None else _jaxlib_version()
    if version is None or not version.startswith(MEASURED):
        return False
    # first: XLA stops reading XLA_FLAGS at a token that is not a flag (the often-quoted
    # "intra_op_parallelism_threads=1" is one), and ignores every flag after it
    environ["XLA_FLAGS"] = f"{YNN_FUSIONS_OFF} {flags}".strip()
    return True
