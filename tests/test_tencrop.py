"""Ten-crop protocol: crops are where they should be, maps go back where they came from."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from camjax import tencrop


def position_image():
    y, x = np.mgrid[:256, :256].astype(np.float32)
    return np.stack([y, x, y * 256 + x], -1)[None]          # (1, 256, 256, 3)


def test_crop_offsets_and_flips():
    crops = np.asarray(tencrop.ten_crop(position_image(), resize=False))
    assert crops.shape == (1, 10, 224, 224, 3)
    for i, (r, c) in enumerate(tencrop.OFFSETS):
        assert crops[0, i, 0, 0, :2].tolist() == [r, c]
        assert crops[0, i, -1, -1, :2].tolist() == [r + 223, c + 223]
        np.testing.assert_array_equal(crops[0, i + 5], crops[0, i, :, ::-1])
    # corners, then centre: as prepare_image.m cuts them
    assert set(tencrop.OFFSETS[:4]) == {(0, 0), (0, 32), (32, 0), (32, 32)}
    assert tencrop.OFFSETS[4] == (16, 16)


def test_position_map_is_reconstructed():
    """A 'network' whose map at each crop pixel is a function of the pixel's position in
    the 256 frame: merging gives that function times the number of crops covering it."""
    f = (np.sin(np.arange(256)[:, None] / 7.0) + np.cos(np.arange(256)[None] / 5.0)
         ).astype(np.float32)
    img = position_image()
    crops = tencrop.ten_crop(img, resize=False)               # (1, 10, 224, 224, 3)
    ys = crops[..., 0].astype(jnp.int32)
    xs = crops[..., 1].astype(jnp.int32)
    maps = jnp.asarray(f)[ys, xs][:, :, None]                  # (1, 10, 1, 224, 224)
    merged = np.asarray(tencrop.merge_ten_crop_maps(maps))[0, 0]
    cover = np.asarray(tencrop.crop_coverage())
    np.testing.assert_allclose(merged, np.abs(f) * cover, rtol=1e-6, atol=1e-5)
    assert cover[0, 0] == 2 and cover[128, 128] == 10 and cover[0, 255] == 2
    assert cover.min() == 2 and cover.max() == 10


def test_released_merge_swaps_two_corners():
    maps = np.zeros((1, 10, 224, 224), np.float32)
    maps[0, 1] = 1.0                                          # crop cut at (32, 0)
    normal = np.asarray(tencrop.merge_ten_crop_maps(maps))[0]
    swapped = np.asarray(tencrop.merge_ten_crop_maps(maps, swap_off_diagonal=True))[0]
    assert normal[255, 0] == 1 and normal[0, 255] == 0
    assert swapped[0, 255] == 1 and swapped[255, 0] == 0


def test_abs_sum_and_scores():
    maps = -np.ones((2, 10, 3, 224, 224), np.float32)
    out = tencrop.merge_ten_crop_maps(maps)
    assert out.shape == (2, 3, 256, 256) and float(out.min()) == 2.0
    scores = np.arange(2 * 10 * 4, dtype=np.float32).reshape(20, 4)
    np.testing.assert_allclose(tencrop.average_crop_scores(scores),
                               scores.reshape(2, 10, 4).mean(1))


def test_ten_crop_maps_end_to_end_jit():
    def maps_fn(crops):                                       # (B*10, 224, 224, C)
        scores = crops.mean(axis=(1, 2))
        return scores, crops[..., :1].transpose(0, 3, 1, 2)
    imgs = jnp.asarray(np.random.default_rng(0).random((2, 300, 280, 3)), jnp.float32)
    scores, maps = jax.jit(lambda x: tencrop.ten_crop_maps(maps_fn, x))(imgs)
    assert scores.shape == (2, 3) and maps.shape == (2, 1, 256, 256)
    full = tencrop.resize_to_full(imgs)
    cover = np.asarray(tencrop.crop_coverage())
    np.testing.assert_allclose(np.asarray(maps)[:, 0], np.abs(np.asarray(full[..., 0])) * cover,
                               rtol=1e-5, atol=1e-5)


def test_bad_shapes():
    with pytest.raises(ValueError):
        tencrop.ten_crop(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError):
        tencrop.ten_crop(np.zeros((1, 200, 200, 3)), resize=False)
    with pytest.raises(ValueError):
        tencrop.merge_ten_crop_maps(np.zeros((1, 9, 224, 224)))
