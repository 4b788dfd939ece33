"""Model-parameter randomisation on NNX state: the layers in the forward pass's order, and
the re-initialisation of the chosen layers only."""
import jax
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax.models import randomise


class Backwards(nnx.Module):
    """Attributes whose sorted order is the reverse of the forward order, one of them
    applied inside a jitted function (a sub-program of the trace)."""

    def __init__(self, rngs):
        self.zeta = nnx.Linear(3, 4, rngs=rngs)
        self.beta = nnx.Linear(4, 5, rngs=rngs)
        self.alpha = nnx.Linear(5, 2, rngs=rngs)

    def __call__(self, x):
        x = x.mean(axis=(1, 2))
        h = self.zeta(x)
        h = jax.jit(lambda k, b, v: v @ k + b)(self.beta.kernel[...], self.beta.bias[...], h)
        return self.alpha(h), None


def numpy_split(make, *filters):
    """nnx.split of the network ``make()`` builds, shapes only (nothing compiled), with
    numpy values: 0.5 + i for leaf i."""
    graphdef, *states = nnx.split(nnx.eval_shape(make), *filters)
    count = iter(range(10 ** 6))
    fill = lambda s: np.full(s.shape, 0.5 + next(count), s.dtype)   # noqa: E731
    return graphdef, *[jax.tree.map(fill, st) for st in states]


def test_layers_follow_the_forward_pass_not_the_attribute_names():
    graphdef, state = numpy_split(lambda: Backwards(nnx.Rngs(0)))
    layers = randomise.parameter_layers(graphdef, state, (1, 4, 4, 3))
    assert [randomise.layer_name(x) for x in layers] == ["zeta", "beta", "alpha"]


def test_tiny_gap_order_and_reinitialisation():
    make = lambda: camjax.models.create("tiny_gap", num_classes=3, rngs=nnx.Rngs(0))  # noqa
    graphdef, trained, rest = numpy_split(make, nnx.Param, ...)
    layers = randomise.parameter_layers(graphdef, (trained, rest), (1, 16, 16, 3))
    want = [f"backbone.{i}.{p}" for i in range(5) for p in ("conv", "norm")]
    assert [randomise.layer_name(x) for x in layers] == want + ["cam_conv.conv", "cam_conv.norm",
                                                                "head.classifier"]
    key = jax.random.key(3)
    chosen = [3, 11, 12]                                     # backbone.1.norm, cam_conv.norm, fc
    new, new_rest = randomise.randomise((trained, rest), layers, chosen, key)
    assert new_rest is rest
    old_flat, new_flat = dict(nnx.to_flat_state(trained)), dict(nnx.to_flat_state(new))
    for path, var in old_flat.items():
        before, after = np.asarray(var.get_value()), np.asarray(new_flat[path].get_value())
        owner = ".".join(map(str, path[:-1]))
        if owner not in ("backbone.1.norm", "cam_conv.norm", "head.classifier"):
            np.testing.assert_array_equal(before, after)
        elif path[-1] == "scale":
            np.testing.assert_array_equal(after, 1.0)
        elif path[-1] == "bias":
            np.testing.assert_array_equal(after, 0.0)
        else:                                                # lecun normal: var 1 / fan-in
            assert after.std() == pytest.approx(1 / np.sqrt(after.shape[0]), rel=0.25)
    # a layer gets the same values whichever test randomises it
    alone = randomise.randomise((trained, rest), layers, [12], key)[0]
    np.testing.assert_array_equal(alone["head"]["classifier"]["kernel"][...],
                                  new["head"]["classifier"]["kernel"][...])
    # the whole-state form
    whole = randomise.randomise(nnx.merge_state(trained, rest), layers, [0], key)
    assert not np.array_equal(whole["backbone"][0]["conv"]["kernel"][...],
                              trained["backbone"][0]["conv"]["kernel"][...])
    np.testing.assert_array_equal(whole["backbone"][0]["norm"]["mean"][...],
                                  rest["backbone"][0]["norm"]["mean"][...])
    assert randomise.layer_name(layers[-1], {"fc": "head.classifier"}) == "fc"
    assert randomise.cascading(3) == [[2], [2, 1], [2, 1, 0]]
    assert randomise.independent(3) == [[2], [1], [0]]
