"""``camjax.localize.localize`` on a tiny network, as one process of a data-parallel run.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 \\
        python -m tests.localize_parallel_run PHOTOS OUT

With ``CAMJAX_COORDINATOR``, ``CAMJAX_NUM_PROCESSES`` and ``CAMJAX_PROCESS_ID`` set, the
process joins a ``jax.distributed`` group (``localize`` starts it) and localizes its share
of PHOTOS. The network is the one :func:`run` builds in any process (tiny_gap, fixed
random weights), loaded in place of a workdir's checkpoint, so the runs of
test_localize_parallel.py differ only in their devices and processes.
"""
import sys

from camjax import distributed

NAMES = ["circle", "square", "triangle", "star", "cross"]
OPTIONS = dict(top_k=2, batch_size=4, save_maps=True, progress=False, method="grad_cam")


def tiny_predictor(workdir):
    """The predictor ``from_workdir`` would give: tiny_gap at 32 px, camjax's resize."""
    from camjax import config as config_lib
    from camjax.engine.frames import Preprocessing
    import jax
    import numpy as np
    from flax import nnx

    from camjax.localize import predictor
    from camjax.training import mesh as mesh_lib
    from tests.methods.conftest import filled_model
    model = filled_model("tiny_gap", num_classes=len(NAMES), widths=(8, 16), strides=(2, 2),
                         cam_channels=8, gain=1.0, head_std=0.3)
    # replicated over every process's devices, as a restored checkpoint is
    replicated = mesh_lib.replicated(mesh_lib.data_mesh())
    nnx.update(model, jax.tree.map(lambda a: jax.device_put(np.asarray(a), replicated),
                                   nnx.state(model)))
    return predictor._ready(model, NAMES, Preprocessing("resize", 32, 0),
                            config_lib.defaults(), {"workdir": str(workdir)})


def run(photos, out):
    """``localize`` of ``photos`` into ``out`` with the tiny network (:data:`OPTIONS`)."""
    from camjax.localize import job
    loader, job.from_workdir = job.from_workdir, tiny_predictor
    try:
        return job.localize([photos], out, workdir=photos, **OPTIONS)
    finally:                            # the other tests of this process load workdirs
        job.from_workdir = loader


if __name__ == "__main__":
    distributed.maybe_initialize()      # before anything computes (CAMJAX_* variables)
    result = run(*sys.argv[1:3])
    sys.exit(0 if result.ok else 1)
