"""Crafted and generated media for the tests: benign pixels only."""

from __future__ import annotations

import io
import struct
import zlib
from typing import cast

import av
import numpy as np
from PIL import Image

from .conftest import encode, synthetic_photo


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def gif_claiming(width: int, height: int) -> bytes:
    """A tiny GIF whose screen and one frame claim ``width`` x ``height`` pixels."""
    return (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x80\x00\x00\x00\x00\x00\xff\xff\xff"
        + b","
        + struct.pack("<HHHH", 0, 0, width, height)
        + b"\x00\x02\x02\x44\x01\x00;"
    )


def solid_gif(width: int, height: int) -> bytes:
    """A real GIF of one colour: LZW squeezes millions of pixels into a few kilobytes."""
    return encode(Image.new("P", (width, height), 3), "GIF")


def animated_gif(frames: int, size: int = 64) -> bytes:
    images = [synthetic_photo(size, size, seed=i).convert("P") for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100)
    return buffer.getvalue()


def uniform_png(size: int = 64) -> bytes:
    return encode(Image.new("RGB", (size, size), (90, 120, 200)), "PNG")


def jpeg_with_broken_exif() -> bytes:
    """A valid JPEG whose EXIF block points past its end (Pillow warns while reading it)."""
    exif = (
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00"
        b"\x05\x00\x00\x00\xff\xff\xff\x7f"
    )
    return encode(synthetic_photo(64, 64), "JPEG", exif=exif)


def jpeg_with_orientation(orientation: int, width: int = 320, height: int = 200) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(synthetic_photo(width, height, seed=7), "JPEG", quality=95, exif=exif)


def _mux(fmt: str, add: str) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        if add == "audio":
            stream = container.add_stream("aac", rate=8000)
            samples = np.zeros((1, 1024), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        else:
            video = container.add_stream("mpeg4", rate=10)
            video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
            container.start_encoding()
    return buffer.getvalue()


def audio_only_mp4() -> bytes:
    return _mux("mp4", "audio")


def mp4_without_frames() -> bytes:
    """An MP4 whose header declares a video track that has no samples."""
    return _mux("mp4", "video")


def small_video(
    frames: int = 12, size: tuple[int, int] = (96, 64), fps: int = 4, fmt: str = "mp4"
) -> bytes:
    """A short generated video of moving benign shapes."""
    buffer = io.BytesIO()
    codec = {"mp4": "mpeg4", "webm": "libvpx", "avi": "mpeg4", "matroska": "mpeg4"}[fmt]
    with av.open(buffer, "w", format=fmt) as container:
        stream = cast("av.VideoStream", container.add_stream(codec, rate=fps))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(frames):
            picture = np.asarray(synthetic_photo(size[0], size[1], seed=index // 4))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
