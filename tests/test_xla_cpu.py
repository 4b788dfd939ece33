"""camjax.xla_cpu: the XLA:CPU flag camjax sets on import, and when it leaves XLA_FLAGS alone."""
import os
import subprocess
import sys

import pytest

from camjax import xla_cpu

OFF = "--xla_cpu_experimental_ynn_fusion_type="


def test_goes_before_the_users_flags():
    """First, because XLA ignores every flag after a token that is not one."""
    env = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
    assert xla_cpu.apply_defaults(env, "0.10.2")
    assert env["XLA_FLAGS"] == f"{OFF} --xla_cpu_multi_thread_eigen=false " \
                               "intra_op_parallelism_threads=1"
    env = {}
    assert xla_cpu.apply_defaults(env, "0.10.0")
    assert env["XLA_FLAGS"] == OFF


@pytest.mark.parametrize("env, version", [
    ({"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=individual_dot"}, "0.10.2"),
    ({"CAMJAX_XLA_CPU_DEFAULTS": "0"}, "0.10.2"),
    ({}, "0.9.1"),          # a release where the flag was not measured (it may not exist)
    ({}, "0.11.0"),
])
def test_leaves_xla_flags_alone(env, version):
    before = dict(env)
    assert not xla_cpu.apply_defaults(env, version)
    assert env == before


CONV = """
import camjax, jax, jax.numpy as jnp
x, w = jnp.ones((8, 32, 32, 32)), jnp.ones((3, 3, 32, 64))
conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(
    x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
print("ynn_fusion" in conv.lower(x, w).compile().as_text())
"""


def _ynn_in_compiled_conv(**env) -> bool:
    run = subprocess.run([sys.executable, "-c", CONV], capture_output=True, text=True,
                         env={**os.environ, "JAX_PLATFORMS": "cpu", **env}, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip() == "True"


@pytest.mark.skipif(not (xla_cpu._jaxlib_version() or "").startswith(xla_cpu.MEASURED),
                    reason="the flag is only set for the jaxlib releases it was measured on")
def test_import_camjax_keeps_convolutions_out_of_ynnpack():
    """The flag reaches XLA, past a user's stray token: a convolution compiled after
    ``import camjax`` is XLA's own, and YNNPACK's fusion when the user opts out."""
    clean = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
             "CAMJAX_XLA_CPU_DEFAULTS": "1"}
    assert not _ynn_in_compiled_conv(**clean)
    assert _ynn_in_compiled_conv(**{**clean, "CAMJAX_XLA_CPU_DEFAULTS": "0"})
