"""decode_image on files made here: high bit depths scaled by their range, EXIF
orientation, colour modes to RGB, the first frame, and named errors for bad files."""
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from camjax.data.images import decode_image, decode_mask
from camjax.errors import ImageError


def test_16_bit_grey_png_is_scaled_not_saturated(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    out = decode_image(tmp_path / "g16.png")
    # x * 255 / 65535: 0, 1, 127.50 -> 128, 255 (Pillow's convert("RGB") gives 0, 255, ...)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    assert out.shape == (1, 4, 3) and np.all(out[..., 0] == out[..., 2])


def test_16_bit_colour_png(tmp_path):
    bgr = np.zeros((2, 3, 3), np.uint16)
    bgr[..., 2] = [[0, 20000, 65535], [1000, 40000, 50000]]   # red channel (OpenCV: BGR)
    cv2.imwrite(str(tmp_path / "c16.png"), bgr)
    out = decode_image(tmp_path / "c16.png")
    want = bgr[..., 2] * 255.0 / 65535
    assert np.abs(out[..., 0].astype(float) - want).max() <= 1.0
    assert out[..., 1:].max() == 0


def test_float_tiff_is_scaled_not_black(tmp_path):
    unit = np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)
    Image.fromarray(unit).save(tmp_path / "unit.tif")
    np.testing.assert_array_equal(decode_image(tmp_path / "unit.tif")[0, :, 1],
                                  [0, 64, 128, 255])            # 63.75, 127.5 round up
    wide = np.array([[-2.0, 2.0, 6.0, np.nan]], np.float32)      # outside [0, 1]: min..max
    Image.fromarray(wide).save(tmp_path / "wide.tif")
    np.testing.assert_array_equal(decode_image(tmp_path / "wide.tif")[0, :, 0],
                                  [0, 128, 255, 0])            # NaN -> 0


@pytest.mark.parametrize("orientation, shape, white", [
    (1, (20, 40), (0, 0, 9, 19)),        # stored frame: the band is the left 10 columns
    (6, (40, 20), (0, 0, 19, 9)),        # rotate 90 clockwise: the band on top
    (8, (40, 20), (0, 30, 19, 39)),      # rotate 90 counter-clockwise: at the bottom
    (3, (20, 40), (30, 0, 39, 19)),      # rotate 180: on the right
])
def test_exif_orientation_puts_boxes_in_the_shown_frame(tmp_path, orientation, shape, white):
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(a).save(tmp_path / "p.jpg", "JPEG", quality=98, exif=exif)
    out = decode_image(tmp_path / "p.jpg")
    assert out.shape[:2] == shape
    ys, xs = np.nonzero(out[..., 0] > 128)
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == white
    stored = decode_image(tmp_path / "p.jpg", exif_orientation=False)
    ys, xs = np.nonzero(stored[..., 0] > 128)
    assert stored.shape[:2] == (20, 40) and (xs.min(), xs.max(), ys.max()) == (0, 9, 19)


def test_cmyk_jpeg(tmp_path):
    cmyk = np.zeros((8, 8, 4), np.uint8)
    cmyk[:, :4, 0] = 255                  # cyan ink on the left, magenta on the right
    cmyk[:, 4:, 1] = 255
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "cmyk.jpg", "JPEG", quality=100)
    out = decode_image(tmp_path / "cmyk.jpg").astype(int)
    assert np.abs(out[:, :2] - [0, 255, 255]).max() <= 10      # cyan = no red
    assert np.abs(out[:, 6:] - [255, 0, 255]).max() <= 10      # magenta = no green


def test_palette_grey_alpha_and_rgba(tmp_path):
    p = Image.new("P", (3, 1))
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.putpixel((1, 0), 1)
    p.save(tmp_path / "p.png")
    np.testing.assert_array_equal(decode_image(tmp_path / "p.png")[0],
                                  [[255, 0, 0], [0, 0, 255], [255, 0, 0]])
    Image.fromarray(np.array([[[90, 10], [200, 255]]], np.uint8), "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(decode_image(tmp_path / "la.png")[0], [[90] * 3, [200] * 3])
    rgba = np.array([[[10, 20, 30, 0], [40, 50, 60, 128]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(decode_image(tmp_path / "rgba.png")[0],   # alpha dropped
                                  [[10, 20, 30], [40, 50, 60]])


def test_animated_gif_gives_its_first_frame(tmp_path):
    red, green = (Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 255, 0)))
    red.save(tmp_path / "a.gif", save_all=True, append_images=[green], duration=100, loop=0)
    assert Image.open(tmp_path / "a.gif").n_frames == 2
    out = decode_image(tmp_path / "a.gif")
    assert out.shape == (4, 4, 3) and np.all(out == [255, 0, 0])


def test_masks_read_grey(tmp_path):
    m = np.array([[0, 1, 128, 255]], np.uint8)
    Image.fromarray(np.repeat(m[..., None], 3, -1)).save(tmp_path / "m.png")   # saved RGB
    np.testing.assert_array_equal(decode_mask(tmp_path / "m.png"), m)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_GRAYSCALE), m)


def _png_header(width, height) -> bytes:
    """A PNG whose header claims width x height and which holds no pixel data."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(20_000, 10_000))        # 2e8 pixels, no data behind
    with pytest.raises(ImageError, match=f"^{path}: 20000x10000 = 200,000,000 pixels, more "
                                         "than the limit of 100,000; if you trust the file, "
                                         r"raise the limit \(--config.max_image_pixels\)"):
        decode_image(path, max_pixels=100_000)
    with pytest.raises(ImageError, match=r"raise the limit \(--max_image_pixels\)"):
        decode_image(path, max_pixels=100_000, limit_name="--max_image_pixels")
    with pytest.raises(ImageError, match=f"^{path}: .*max_image_pixels"):
        decode_image(path)                               # Pillow's own refusal, named
    Image.new("RGB", (400, 300)).save(tmp_path / "ok.png")
    with pytest.raises(ImageError, match="400x300 = 120,000 pixels"):
        decode_image(tmp_path / "ok.png", max_pixels=100_000)
    assert decode_image(tmp_path / "ok.png", max_pixels=120_000).shape == (300, 400, 3)


def test_bad_files_are_named(tmp_path):
    a = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "full.jpg", "JPEG")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    cases = [("cut.jpg", "does not decode"), ("text.jpg", "not an image"),
             ("empty.png", "not an image"), ("missing.png", "no such file")]
    for name, what in cases:
        with pytest.raises(ImageError, match=f"^{tmp_path / name}: {what}"):
            decode_image(tmp_path / name)
    with pytest.raises(ImageError, match="is a folder"):
        decode_image(tmp_path)


def test_no_bomb_warning_escapes_threads_decoding_at_once(tmp_path):
    """Pillow warns (DecompressionBombWarning) between its limit and twice it; camjax
    names the file itself. warnings.catch_warnings is process-wide: threads opening images
    at once (grain's readers, localize's decoders) must not let the warning through."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor
    paths = []
    for k in range(48):
        paths.append(tmp_path / f"big_{k}.png")
        paths[-1].write_bytes(_png_header(10_000, 9_500))   # 95e6 pixels: Pillow warns

    def decode(path):
        with pytest.raises(ImageError, match="95,000,000 pixels"):
            decode_image(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(decode, paths))
    assert [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)] == []
