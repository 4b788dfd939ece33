"""Every method is differentiable (users train with CAM losses), registered, and gives the
same maps on a batch sharded along ``data`` as on one device, sharded the same way."""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from camjax import methods
from tests.conftest import ROOT
from tests.methods.conftest import Toy, toy_params

OPTIONS = {"score_cam": {"batch_size": 2}, "smooth_grad": {"samples": 3, "batch_size": 2},
           "integrated_gradients": {"steps": 4, "batch_size": 3},
           "smooth_grad_cam_plus_plus": {"samples": 3, "batch_size": 2, "sigma": 0.1},
           # a fixed key: by default the weights are drawn from the state, which the
           # finite difference moves
           "random_cam": {"key": jax.random.key(3)},
           "ablation_cam": {"batch_size": 2}, "ss_cam": {"samples": 2, "batch_size": 3},
           "is_cam": {"steps": 2, "batch_size": 3},
           "rise": {"samples": 6, "grid": 3, "batch_size": 3},
           "occlusion": {"window": 4, "stride": 2, "batch_size": 5},
           "blur_ig": {"steps": 3, "max_sigma": 2.0, "batch_size": 3},
           "guided_ig": {"steps": 3}, "xrai": {"steps": 2, "min_pixel_diff": 8}}


def test_registry_lists_every_method_with_its_resolution():
    assert set(methods.METHODS) == set(methods.PURE_METHODS) == {
        "cam", "grad_cam", "grad_cam_plus_plus", "score_cam", "layer_cam", "saliency",
        "smooth_grad", "integrated_gradients", "hires_cam", "grad_cam_element_wise",
        "x_grad_cam", "eigen_cam", "eigen_grad_cam", "kpca_cam", "smooth_grad_cam_plus_plus",
        "full_grad", "random_cam", "ablation_cam", "ss_cam", "is_cam", "rise", "occlusion",
        "guided_backprop", "guided_grad_cam", "input_x_gradient", "blur_ig", "guided_ig",
        "xrai"}
    assert methods.get("score_cam") is methods.score_cam
    assert methods.get_pure("layer_cam") is methods.layer_cam_fn
    assert sorted(n for n in methods.METHODS if methods.at_image_resolution(n)) == [
        "blur_ig", "full_grad", "guided_backprop", "guided_grad_cam", "guided_ig",
        "input_x_gradient", "integrated_gradients", "occlusion", "rise", "saliency",
        "smooth_grad", "xrai"]
    assert sorted(n for n in methods.METHODS if methods.takes_layer(n)) == [
        "ablation_cam", "eigen_cam", "eigen_grad_cam", "grad_cam", "grad_cam_element_wise",
        "grad_cam_plus_plus", "guided_grad_cam", "hires_cam", "is_cam", "kpca_cam",
        "layer_cam", "random_cam", "score_cam", "smooth_grad_cam_plus_plus", "ss_cam",
        "x_grad_cam"]
    assert sorted(n for n, m in methods.registry.methods().items() if not m.eigen_smooth) == [
        "ablation_cam", "blur_ig", "cam", "full_grad", "guided_backprop", "guided_grad_cam",
        "guided_ig", "input_x_gradient", "integrated_gradients", "is_cam", "kpca_cam",
        "occlusion", "rise", "saliency", "smooth_grad", "ss_cam", "xrai"]
    assert methods.registry.get("smooth_grad").options["samples"] == 50
    with pytest.raises(ValueError, match="unknown map method 'gradcam'.*grad_cam"):
        methods.get("gradcam")


def test_the_docs_table_is_the_registrys():
    text = (ROOT / "docs" / "methods.md").read_text()
    table = text.split("<!-- methods table: camjax.methods.registry.markdown_table() -->\n")[1]
    assert table.split("\n<!-- end of methods table -->")[0] == \
        methods.registry.markdown_table(), "regenerate the table in docs/methods.md"


@pytest.mark.parametrize("name", list(methods.METHODS))
def test_a_loss_on_the_maps_has_the_finite_difference_gradient(name):
    # float64, so that a central difference with a tiny step is accurate to ~1e-8
    with jax.enable_x64(True):
        params = toy_params(seed=6, channels=3, classes=3)
        params["bias"][:] = 0.4
        # FullGrad refuses the squared head (not homogeneous in the biases): the linear one
        model = Toy(**params, square=name != "full_grad", dtype=jnp.float64)
        rng = np.random.default_rng(3)
        images = jnp.asarray(rng.normal(0, 1, (2, 8, 8, 3)))
        classes = jnp.array([[0, 2], [1, 1]])
        graphdef, state = nnx.split(model)
        pure = methods.get_pure(name)
        maps_shape = methods.get(name)(model, images, classes, **OPTIONS.get(name, {})).shape
        target = jnp.asarray(rng.normal(0, 1, maps_shape))

        def loss(s):
            return (pure(graphdef, s, images, classes, **OPTIONS.get(name, {})) * target).sum()

        grads = jax.grad(loss)(state)
        direction = jax.tree.map(lambda x: jnp.asarray(rng.normal(0, 1, x.shape)), state)
        eps = 1e-6

        def shift(sign):
            return jax.tree.map(lambda x, d: x + sign * eps * d, state, direction)
        fd = (loss(shift(1)) - loss(shift(-1))) / (2 * eps)
        analytic = sum(float((g * d).sum()) for g, d in zip(jax.tree.leaves(grads),
                                                            jax.tree.leaves(direction)))
        assert abs(analytic) > 1e-6
        np.testing.assert_allclose(analytic, float(fd), rtol=1e-5)


@pytest.mark.slow
def test_a_sharded_batch_gives_the_same_maps_sharded_along_data():
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    run = subprocess.run([sys.executable, "-m", "tests.methods.sharded_run"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4
    assert set(result["methods"]) == set(methods.METHODS) | {
        "grad_cam@backbone.1", "score_cam@backbone.1", "ablation_cam@backbone.1",
        "engine.predict", "engine.predict+smoothing"}
    for name, meshes in result["methods"].items():
        for kind, r in meshes.items():     # jax.make_mesh's explicit axes, and auto axes
            assert r["scale"] > 0, (name, kind)
            assert r["max_diff"] <= 1e-5 * r["scale"], (name, kind, r)
            assert r["spec"][0] == "data" and r["shards"] == 4, (name, kind, r)
    for mode, r in result["curves"].items():    # faithfulness on the sharded batch
        assert r["max_diff"] <= 1e-6 and r["spec"][0] == "data", (mode, r)
    r = result["faithfulness_scorer"]           # 7 images on 4 devices: padded to 8
    assert r["num_images"] == 7 and r["rows"] == 8 and r["shards"] == 4, r
    assert r["max_diff"] <= 1e-4, r
