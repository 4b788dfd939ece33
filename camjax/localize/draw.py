"""The overlay picture of one image: its top-1 map over the original image, the top-k boxes
outlined (rank 1 red) with their rank, and a legend of classes and probabilities below.

The picture shows the original image scaled so that its long side lies in
[:data:`MIN_SIDE`, :data:`MAX_SIDE`] pixels (small images enlarged so the labels stay
readable, large photos reduced so a PNG stays a few MB); the boxes in predictions.json and
.csv are in the original pixels whatever the picture's size. Pixels the model did not see
(the strips torchvision's centre crop cuts off) are greyed and carry no heat.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from camjax import viz
from camjax.engine.frames import Frame

MIN_SIDE, MAX_SIDE = 448, 1600
# rank 1 red, then colours that stay distinct from the jet heat map's blues and yellows
COLORS = [viz.RED, (255, 255, 255), (255, 0, 255), (0, 255, 0), (255, 140, 0),
          (0, 255, 255), (160, 82, 45), (128, 128, 255)]


def display_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of the picture of an ``height`` x ``width`` image (aspect ratio kept)."""
    long = max(height, width)
    scale = min(max(1.0, MIN_SIDE / long), MAX_SIDE / long)
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):   # Pillow without FreeType: its bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def shown_image(image: np.ndarray) -> np.ndarray:
    """The original uint8 (H, W, 3) image at its picture's size (bilinear)."""
    dh, dw = display_size(*image.shape[:2])
    if (dh, dw) == image.shape[:2]:
        return image
    return np.asarray(Image.fromarray(image).resize((dw, dh), Image.Resampling.BILINEAR))


def picture(shown: np.ndarray, frame: Frame, heat: np.ndarray, boxes, labels: list[str],
            title: str) -> np.ndarray:
    """uint8 RGB picture: ``shown`` the image at its picture size (:func:`shown_image`),
    ``frame`` where the model input lies in the original pixels, ``heat`` the (S, S) rank-1
    map on the model input, ``boxes`` (k, 4) inclusive in original pixels, one label per
    box ("golden retriever 87.3%"), a ``title`` line above the legend."""
    h, w = frame.height, frame.width
    dh, dw = shown.shape[:2]
    out = viz.overlay(shown, frame.map_onto(heat, dh, dw))
    fy, fx = dh / h, dw / w
    seen = np.zeros((dh, dw), bool)
    seen[frame.region_on(dh, dw)] = True
    grey = (0.4 * shown + 0.6 * 128).round().astype(np.uint8)
    out = np.where(seen[..., None], out, grey)

    font_px = int(np.clip(dw // 32, 14, 28))
    font, line = _font(font_px), int(font_px * 1.4)
    canvas_w = max(dw, MIN_SIDE)
    canvas = Image.new("RGB", (canvas_w, dh + line * (len(labels) + 1) + font_px // 2),
                       "white")
    canvas.paste(Image.fromarray(out), ((canvas_w - dw) // 2, 0))
    draw, ox = ImageDraw.Draw(canvas), (canvas_w - dw) // 2
    thickness = max(2, int(round(max(dh, dw) / 250)))
    rects = [(ox + int(bx0 * fx), int(by0 * fy), ox + int(np.ceil((bx1 + 1) * fx)) - 1,
              int(np.ceil((by1 + 1) * fy)) - 1)
             for bx0, by0, bx1, by1 in (map(int, b) for b in boxes[:len(labels)])]
    for rank in reversed(range(len(rects))):        # rank 1 drawn last, on top
        draw.rectangle(rects[rank], outline=COLORS[rank % len(COLORS)], width=thickness)
    tags = []                       # rank tags at each box's corner, moved right off others
    for rank, rect in enumerate(rects):
        tag = str(rank + 1)
        tw = int(draw.textlength(tag, font=font)) + 6
        x = rect[0]
        while any(x < t[2] and t[0] < x + tw and abs(t[1] - rect[1]) < line for t in tags):
            x += tw
        tags.append((x, rect[1], x + tw))
        draw.rectangle((x, rect[1], x + tw, rect[1] + line - 2),
                       fill=COLORS[rank % len(COLORS)])
        draw.text((x + 3, rect[1]), tag, fill=(0, 0, 0), font=font)
    y = dh + font_px // 4
    draw.text((6, y), _fit(draw, title, font, canvas_w - 12), fill=(0, 0, 0), font=font)
    for rank, label in enumerate(labels):
        y += line
        color = COLORS[rank % len(COLORS)]
        draw.rectangle((6, y + 2, 6 + font_px, y + font_px + 2), fill=color, outline=(0, 0, 0))
        text = _fit(draw, f"{rank + 1}. {label}", font, canvas_w - 20 - font_px)
        draw.text((12 + font_px, y), text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def save_picture(path, *args) -> None:
    """:func:`picture` of ``args`` saved as the PNG ``path``."""
    from camjax.errors import UserError
    try:
        viz.save_png(path, picture(*args))
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None
