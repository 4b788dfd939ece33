"""The XLA:CPU setting camjax applies when it is imported: YNNPACK's fusions off.

jaxlib 0.10's XLA:CPU hands convolutions and dots to YNNPACK fusions by default. On the
x86 machine camjax is developed on (2 cores, AVX-512) XLA's own kernels are faster, on
one thread and more so on two: ResNet-50's forward pass at 224 px, batch 32, 18.6 -> 33
images/s on 2 cores (11.7 -> 15.5 on one); VGG16-GAP forward + CAMs 1.23x; ViT-B/16
1.11x; the train step 1.3-1.6x (BENCHMARKS.md, "Reading the numbers"). The convolution
fusion is the costly one (turning off only the dot fusion changes nothing); camjax turns
all of them off, which measured best on every network tried. The sums are the same in
another order: results equal to float rounding. Nor has XLA's own kernel YNNPACK's cliff
at convolutions of 3 input channels (tiny_gap's forward, batch 128 at 64 px: 55.7 ms with
YNNPACK, 32.6 ms with its RGB convolution fed a zero fourth channel, 20.1 ms with XLA's
kernels and 20.5 padded), so camjax no longer pads RGB convolutions.

XLA reads ``XLA_FLAGS`` once, when JAX's CPU backend starts, so the flag takes effect only
when camjax is imported before the process's first JAX computation (the CLI, the
experiments and the benches do). The flag is not added:

- when ``XLA_FLAGS`` already sets ``--xla_cpu_experimental_ynn_fusion_type`` (the user's
  value wins, e.g. ``=individual_dot,individual_convolution`` for YNNPACK's fusions);
- when ``CAMJAX_XLA_CPU_DEFAULTS=0``;
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
