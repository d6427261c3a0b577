"""Benign generated media for the media and classifier tests (shapes, gradients, colours)."""

from __future__ import annotations

import io
from typing import cast

import av
import numpy as np
from PIL import Image, ImageDraw

from shieldwall.demo_media import jpeg, stand_in

MAGENTA = (255, 0, 255)


def picture(seed: int = 1) -> bytes:
    """A generated JPEG (gradient and shapes)."""
    return jpeg(stand_in(seed))


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def marked(share: float, seed: int = 5, colour: tuple[int, int, int] = MAGENTA) -> bytes:
    """A PNG whose left ``share`` of columns is painted ``colour`` (what the stand-in
    classifier measures); the rest is a generated picture with no pure magenta."""
    image = stand_in(seed)
    width, height = image.size
    columns = round(width * share)
    if columns:
        ImageDraw.Draw(image).rectangle([0, 0, columns - 1, height - 1], fill=colour)
    return png(image)


def checkerboard(size: int = 256, cell: int = 4) -> Image.Image:
    """Sharp black and white squares: the most detail a picture can carry."""
    ys, xs = np.indices((size, size))
    board = (((xs // cell) + (ys // cell)) % 2 * 255).astype(np.uint8)
    return Image.fromarray(board, "L").convert("RGB")


def small_video(first: tuple[int, int, int] = MAGENTA, frames: int = 8) -> bytes:
    """An MP4 whose first frame is one solid colour and the rest generated pictures."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = cast("av.VideoStream", container.add_stream("mpeg4", rate=4))
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for index in range(frames):
            if index == 0:
                image = Image.new("RGB", (96, 64), first)
            else:
                image = stand_in(index).resize((96, 64))
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
