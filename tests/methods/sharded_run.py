"""Run every method on a batch sharded along ``data`` and on the same batch unsharded.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m tests.methods.sharded_run

Prints one JSON object: per method and mesh kind, the largest difference between the
sharded and the unsharded maps and the output's partition spec; the same for the feature
methods at a named inner layer (``layer=``, the zero-perturbation tap), for the map
engine's jitted ``predict`` (labels and maps; and with ``aug_smooth`` and ``eigen_smooth``),
and for the deletion and insertion curves
of camjax.evaluation (score_fn on the sharded perturbed images) and the evaluation job's
faithfulness scorer on an odd number of images (padded, sharded, the padding dropped).
Run in a subprocess by test_grad_and_sharding.py (the device count is fixed when JAX starts).
"""
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from flax import nnx

from camjax import engine, methods
from camjax.evaluation import deletion_insertion_curves
from camjax.evaluator.faithful import Faithfulness
from camjax.evaluator.scorers import Batch
from camjax.training.scoring import local_scoring
from tests.methods.conftest import filled_model

OPTIONS = {"score_cam": {"batch_size": 3}, "smooth_grad": {"samples": 3, "batch_size": 2},
           "integrated_gradients": {"steps": 4, "batch_size": 2},
           "smooth_grad_cam_plus_plus": {"samples": 3, "batch_size": 2, "sigma": 0.1},
           "ablation_cam": {"batch_size": 3}, "ss_cam": {"samples": 2, "batch_size": 3},
           "is_cam": {"steps": 2, "batch_size": 3},
           "rise": {"samples": 6, "grid": 3, "batch_size": 4},
           "occlusion": {"window": 8, "stride": 4, "batch_size": 3},
           "blur_ig": {"steps": 3, "max_sigma": 2.0, "batch_size": 2},
           "guided_ig": {"steps": 3}, "xrai": {"steps": 2, "batch_size": 2}}


def main():
    n = jax.device_count()
    model = filled_model("tiny_gap", num_classes=5, widths=(8, 16), strides=(2, 2),
                         cam_channels=8, gain=1.0, head_std=0.3)   # quick to compile
    rng = np.random.default_rng(0)
    images = rng.normal(0, 1, (2 * n, 16, 16, 3)).astype(np.float32)
    classes = rng.integers(0, 5, (2 * n, 2)).astype(np.int32)
    meshes = {"explicit": jax.make_mesh((n,), ("data",)),
              "auto": jax.make_mesh((n,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))}
    out = {"devices": n, "methods": {}}
    graphdef, state = nnx.split(model)
    runs = {name: (lambda x, c, m=method, o=OPTIONS.get(name, {}): m(model, x, c, **o))
            for name, method in methods.METHODS.items()}
    runs.update({f"{name}@backbone.1": (lambda x, c, m=methods.get(name), o=OPTIONS.get(
        name, {}): m(model, x, c, layer="backbone.1", **o))
        for name in ("grad_cam", "score_cam", "ablation_cam")})   # the gradient, the forward tap
    runs["engine.predict"] = lambda x, c: engine.predict(   # labels first, then the top-2
        graphdef, state, x, c[:, 0], method="grad_cam", k=2, layer="backbone.1")[2]
    runs["engine.predict+smoothing"] = lambda x, c: engine.predict(   # the two map options
        graphdef, state, x, c[:, 0], method="hires_cam", k=1, layer="backbone.1",
        options=(("aug_smooth", True), ("eigen_smooth", True)))[2]
    for name, run in runs.items():
        plain = np.asarray(run(jnp.asarray(images), jnp.asarray(classes)))
        row = {}
        for kind, mesh in meshes.items():
            sharding = NamedSharding(mesh, P("data"))
            maps = run(jax.device_put(images, sharding), jax.device_put(classes, sharding))
            row[kind] = {"max_diff": float(np.abs(np.asarray(maps) - plain).max()),
                         "scale": float(np.abs(plain).max()),
                         "spec": [str(s) for s in maps.sharding.spec],
                         "shards": len({s.device for s in maps.addressable_shards})}
        out["methods"][name] = row

    probabilities = jax.jit(lambda s, x: jax.nn.softmax(nnx.merge(graphdef, s)(x)[0]))
    score_fn = lambda x: probabilities(state, x)         # noqa: E731
    maps = rng.uniform(0, 1, images.shape[:3]).astype(np.float32)
    plain = deletion_insertion_curves(score_fn, images, maps, classes[:, 0], steps=8,
                                      batch_size=4)
    sharding = NamedSharding(meshes["explicit"], P("data"))
    put = lambda a: jax.device_put(a, sharding)           # noqa: E731
    sharded = deletion_insertion_curves(score_fn, put(images), put(maps), put(classes[:, 0]),
                                        steps=8, batch_size=4)
    out["curves"] = {m: {"max_diff": float(np.abs(np.asarray(sharded[m] - plain[m])).max()),
                         "spec": [str(x) for x in sharded[m].sharding.spec]}
                     for m in plain}
    out["faithfulness_scorer"] = faithfulness_scorer(graphdef, state, score_fn, rng)
    print(json.dumps(out))


def faithfulness_scorer(graphdef, state, score_fn, rng):
    """The evaluation job's faithfulness scorer on 2 n - 1 images (padded to 2 n, sharded
    over this process's n devices) against the same scorer on one device, unpadded."""
    m = 2 * jax.device_count() - 1
    images = rng.normal(0, 1, (m, 16, 16, 3)).astype(np.float32)
    maps = rng.uniform(0, 1, (m, 2, 16, 16)).astype(np.float32)
    top = rng.integers(0, 5, (m, 2)).astype(np.int32)
    batch = Batch(images, top[:, 0], top, maps, None, None, np.arange(m))
    local_fn, place = local_scoring(graphdef, (state,))
    results = []
    for scorer in (Faithfulness(score_fn, steps=8, batch_size=4),
                   Faithfulness(local_fn, steps=8, batch_size=4, place=place)):
        scorer.update(batch)
        results.append(scorer.result())
    placed = place({"x": images})["x"]
    return {"max_diff": max(float(np.abs(np.subtract(results[0][k], results[1][k])).max())
                            for k in results[0]),
            "num_images": results[1]["num_images"], "rows": placed.shape[0],
            "shards": len(placed.sharding.device_set)}


if __name__ == "__main__":
    main()
