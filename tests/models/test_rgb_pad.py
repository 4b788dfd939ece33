"""models.layers.pad_rgb_convs: the XLA:CPU workaround for 3-channel convolutions computes
the same network (checked against a float64 numpy convolution) through a 4-channel one."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.models.layers import RGB_PAD_MAX_OUT, pad_rgb_convs


def numpy_conv(x, w, stride):
    """NHWC x HWIO, padding k // 2, in float64: the sums written out."""
    k = w.shape[0]
    xp = np.pad(x.astype(np.float64), ((0, 0), (k // 2,) * 2, (k // 2,) * 2, (0, 0)))
    h = (x.shape[1] + 2 * (k // 2) - k) // stride + 1
    out = np.zeros((x.shape[0], h, h, w.shape[3]))
    for i in range(k):
        for j in range(k):
            patch = xp[:, i:i + stride * (h - 1) + 1:stride, j:j + stride * (h - 1) + 1:stride]
            out += patch @ w[i, j].astype(np.float64)
    return out


class Convs(nnx.Module):
    def __init__(self):
        rngs = nnx.Rngs(0)
        self.rgb = nnx.Conv(3, 8, (3, 3), strides=2, padding=1, use_bias=False, rngs=rngs)
        self.wide = nnx.Conv(3, RGB_PAD_MAX_OUT + 1, (3, 3), padding=1, rngs=rngs)
        self.inner = nnx.Conv(8, 8, (3, 3), padding=1, rngs=rngs)


def test_padded_rgb_conv_is_the_same_convolution_through_four_channels():
    model = nnx.eval_shape(Convs)           # shapes only; values from numpy (no compile)
    rng = np.random.default_rng(1)
    for _, var in nnx.to_flat_state(nnx.state(model)):
        var.set_value(jnp.asarray(rng.normal(0, 0.3, var.get_value().shape), jnp.float32))
    x = np.random.default_rng(0).normal(0, 1, (2, 12, 12, 3)).astype(np.float32)
    want = numpy_conv(x, np.asarray(model.rgb.kernel[...]), 2)
    pad_rgb_convs(model)
    plain = jax.lax.conv_general_dilated
    assert model.rgb.conv_general_dilated is not plain
    # 33 outputs (XLA is fast there) and 8 inputs: left alone
    assert model.wide.conv_general_dilated is plain and model.inner.conv_general_dilated is plain
    np.testing.assert_allclose(np.asarray(model.rgb(jnp.asarray(x))), want, rtol=1e-5,
                               atol=1e-5)
    jaxpr = str(jax.make_jaxpr(model.rgb)(jnp.asarray(x)))
    assert "f32[2,12,12,4]" in jaxpr and "f32[3,3,4,8]" in jaxpr    # the zero channel
    hash(nnx.graphdef(model))                # still keys a jit cache
