"""Drawing functions: exact box pixels, overlay shape and dtype, grid layout, figures."""
import numpy as np
import pytest

from camjax import viz


def test_draw_box_changes_exactly_the_outline_pixels():
    img = np.zeros((10, 12, 3), np.uint8)
    out = viz.draw_box(img, (2, 3, 7, 6), color=(255, 0, 0))
    changed = (out != 0).any(axis=2)
    expected = np.zeros((10, 12), bool)
    expected[3, 2:8] = expected[6, 2:8] = True        # top and bottom rows, inclusive
    expected[3:7, 2] = expected[3:7, 7] = True        # left and right columns
    np.testing.assert_array_equal(changed, expected)
    assert (out[changed] == (255, 0, 0)).all()
    assert (img == 0).all()                           # a copy, the input untouched


def test_draw_box_thickness_and_clipping():
    img = np.zeros((8, 8, 3), np.uint8)
    out = viz.draw_box(img, (-3, 1, 20, 6), color=(0, 255, 0), thickness=2)
    changed = (out != 0).any(axis=2)
    expected = np.zeros((8, 8), bool)
    expected[1:3, :] = expected[5:7, :] = True
    expected[1:7, 0:2] = expected[1:7, 6:8] = True
    np.testing.assert_array_equal(changed, expected)


def test_draw_boxes_draws_every_box():
    img = np.zeros((9, 9, 3), np.uint8)
    out = viz.draw_boxes(img, np.array([[0, 0, 0, 0], [8, 8, 8, 8]]))
    changed = (out != 0).any(axis=2)
    assert changed.sum() == 2 and changed[0, 0] and changed[8, 8]


def test_overlay_shape_dtype_and_blend():
    img = np.full((6, 5, 3), 100, np.uint8)
    cam = np.zeros((6, 5))
    out = viz.overlay(img, cam, alpha=0.0)
    assert out.shape == (6, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, img)           # alpha 0: the image itself
    full = viz.overlay(img, np.ones((6, 5)), alpha=1.0)
    np.testing.assert_array_equal(full, viz.heat_colors(np.ones((6, 5))))
    with pytest.raises(ValueError, match="differ in size"):
        viz.overlay(img, np.zeros((5, 5)))


def test_grid_layout_places_each_image_in_its_cell():
    ims = [np.full((4, 3, 3), i + 1, np.uint8) for i in range(5)]
    out = viz.grid(ims, ncols=3, pad=1, fill=0)
    assert out.shape == (2 * 5 + 1, 3 * 4 + 1, 3)
    for i, (r, c) in enumerate(viz.grid_layout(5, 3)):
        y, x = 1 + r * 5, 1 + c * 4
        assert (out[y:y + 4, x:x + 3] == i + 1).all()
    assert (out[6:10, 9:12] == 0).all()               # the sixth cell stays empty
    assert viz.grid_layout(5, 3) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]


def test_upscale_and_mask_region():
    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    up = viz.upscale(img, 3)
    assert up.shape == (6, 6, 3) and (up[3:6, 0:3] == img[1, 0]).all()
    mask = np.array([[True, False], [False, False]])
    out = viz.mask_region(np.full((2, 2, 3), 50, np.uint8), mask, dim=0.0)
    assert (out[0, 0] == 50).all() and (out[~mask] == 255).all()


def test_titled_grid_and_line_plot_write_pngs(tmp_path):
    from PIL import Image
    p = viz.titled_grid(tmp_path / "g.png", [np.zeros((8, 8, 3), np.uint8)] * 3, ["a", "b", "c"],
                        ncols=2, row_labels=["r0", "r1"])
    assert Image.open(p).size[0] > 0
    q = viz.line_plot(tmp_path / "l.png", [0.1, 0.2], {"x": [1, 2]}, xlabel="t", ylabel="%",
                      marks={"20%": 0.2}, points={"p": (0.1, 1.5)})
    assert Image.open(q).mode in ("RGBA", "RGB")
    with pytest.raises(ValueError):
        viz.titled_grid(tmp_path / "h.png", [np.zeros((8, 8, 3), np.uint8)], ["a", "b"])
