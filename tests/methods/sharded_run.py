"""Run every method on a batch sharded along ``data`` and on the same batch unsharded.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m tests.methods.sharded_run

Prints one JSON object: per method and mesh kind, the largest difference between the
sharded and the unsharded maps and the output's partition spec. Run in a subprocess by
test_grad_and_sharding.py (the device count is fixed when JAX starts).
"""
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from camjax import methods
from tests.methods.conftest import filled_model

OPTIONS = {"score_cam": {"batch_size": 3}, "smooth_grad": {"samples": 3, "batch_size": 2},
           "integrated_gradients": {"steps": 4, "batch_size": 2}}


def main():
    n = jax.device_count()
    model = filled_model("tiny_gap", num_classes=5, cam_channels=8, gain=1.0, head_std=0.3)
    rng = np.random.default_rng(0)
    images = rng.normal(0, 1, (2 * n, 16, 16, 3)).astype(np.float32)
    classes = rng.integers(0, 5, (2 * n, 2)).astype(np.int32)
    meshes = {"explicit": jax.make_mesh((n,), ("data",)),
              "auto": jax.make_mesh((n,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))}
    out = {"devices": n, "methods": {}}
    for name, method in methods.METHODS.items():
        opts = OPTIONS.get(name, {})
        plain = np.asarray(method(model, jnp.asarray(images), jnp.asarray(classes), **opts))
        row = {}
        for kind, mesh in meshes.items():
            sharding = NamedSharding(mesh, P("data"))
            maps = method(model, jax.device_put(images, sharding),
                          jax.device_put(classes, sharding), **opts)
            row[kind] = {"max_diff": float(np.abs(np.asarray(maps) - plain).max()),
                         "scale": float(np.abs(plain).max()),
                         "spec": [str(s) for s in maps.sharding.spec],
                         "shards": len({s.device for s in maps.addressable_shards})}
        out["methods"][name] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
