"""vPDQ: PDQ hashes of video frames, chosen the way Meta's vpdq does it.

Frame selection copies ``vpdq/cpp/vpdq/cpp/hashing/filehasher.cpp``: the frame rate is the
stream's ``avg_frame_rate`` (else ``r_frame_rate``); frames are counted in decode order from 0;
frame ``n`` is hashed when ``n % max(1, int(seconds_per_hash * fps)) == 0`` (so
``seconds_per_hash=0`` hashes every frame); its timestamp is ``float32(n) / float32(fps)``.
Frames are converted to RGB24 at the stream's size with swscale's AREA filter, as vpdq does.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import numpy as np

from shieldwall.core.hashing._errors import MediaErrorReason, media_error
from shieldwall.core.hashing._options import HashOptions
from shieldwall.core.hashing._pdq import MIN_HASHABLE_SIDE, pdq_of
from shieldwall.core.hashing._pixels import silence_library_warnings
from shieldwall.core.signals import VpdqFrame, VpdqHash

#: Our container name -> the FFmpeg demuxer forced for it. Forcing it means FFmpeg never
#: probes its way into a demuxer that follows references (HLS playlists, concat lists).
DEMUXERS = {
    "mp4": "mov",
    "mov": "mov",
    "3gp": "mov",
    "webm": "matroska",
    "mkv": "matroska",
    "avi": "avi",
    "flv": "flv",
    "mpegts": "mpegts",
    "mpeg": "mpeg",
    "asf": "asf",
}


@dataclass(frozen=True, slots=True)
class VideoHashes:
    vpdq: VpdqHash
    width: int
    height: int
    frame_rate: float
    frames_decoded: int
    #: The stream ended before the frame count its container declares (a cut-off file);
    #: the hashes cover the frames that decoded.
    truncated: bool = False


def _frame_rate(rate: Fraction | None, fallback: Fraction | None) -> float:
    for value in (rate, fallback):
        if value is not None and value.numerator > 0 and value.denominator > 0:
            return float(value)
    return 0.0


def _check_duration(container: av.container.InputContainer, options: HashOptions) -> None:
    if container.duration is not None and container.duration > 0:
        seconds = container.duration / av.time_base
        if seconds > options.vpdq_max_seconds:
            raise media_error(
                MediaErrorReason.TOO_LONG,
                f"the video lasts {seconds:,.0f} s, more than the limit of "
                f"{options.vpdq_max_seconds:,.0f} s",
            )


def _hash_stream(
    container: av.container.InputContainer, fmt: str, options: HashOptions
) -> VideoHashes:
    if not container.streams.video:
        raise media_error(MediaErrorReason.NO_FRAMES, f"the {fmt} file has no video stream")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > options.max_pixels:
        raise media_error(
            MediaErrorReason.TOO_MANY_PIXELS,
            f"the video frames are {width}x{height}, more than {options.max_pixels:,} pixels",
        )
    if 0 < min(width, height) < MIN_HASHABLE_SIDE:
        raise media_error(
            MediaErrorReason.TOO_SMALL,
            f"the video is {width}x{height}; PDQ needs at least {MIN_HASHABLE_SIDE} px a side",
        )
    fps = _frame_rate(stream.average_rate, stream.base_rate)
    if fps <= 0:
        raise media_error(MediaErrorReason.CORRUPT, f"the {fmt} video has no frame rate")
    _check_duration(container, options)
    every = max(1, int(options.vpdq_seconds_per_hash * fps))
    fps32 = np.float32(fps)
    stream.thread_type = "AUTO"
    frames: list[VpdqFrame] = []
    count = 0
    for frame in container.decode(stream):
        if count >= options.max_frames:
            raise media_error(
                MediaErrorReason.TOO_LONG,
                f"the video has more than {options.max_frames:,} frames",
            )
        timestamp = float(np.float32(count) / fps32)
        if timestamp > options.vpdq_max_seconds:
            raise media_error(
                MediaErrorReason.TOO_LONG,
                f"the video runs past the limit of {options.vpdq_max_seconds:,.0f} s",
            )
        if count % every == 0:
            # vpdq scales every frame to the stream's size (frames can change size mid-stream)
            rgb = frame.to_ndarray(
                format="rgb24",
                interpolation="AREA",
                width=width or frame.width,
                height=height or frame.height,
            )
            pdq = pdq_of(rgb)
            frames.append(VpdqFrame(pdq.hex, int(pdq.quality or 0), timestamp, count))
        count += 1
    if not frames:
        raise media_error(MediaErrorReason.NO_FRAMES, f"the {fmt} video has no decodable frames")
    declared = stream.frames or 0
    truncated = declared > 0 and count < declared - max(1, declared // 100)
    return VideoHashes(VpdqHash(tuple(frames)), width, height, fps, count, truncated)


def hash_video(
    source: bytes | str | os.PathLike[str], fmt: str, options: HashOptions
) -> VideoHashes:
    """vPDQ of a video given as bytes or a path, in the container ``fmt`` that was sniffed."""
    silence_library_warnings()
    file: io.BytesIO | str = io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source)
    try:
        container = av.open(file, mode="r", format=DEMUXERS.get(fmt))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise media_error(
            MediaErrorReason.CORRUPT,
            f"the {fmt} container cannot be read ({_ffmpeg_text(exc)})",
        ) from None
    try:
        with container:
            return _hash_stream(container, fmt, options)
    except (av.error.FFmpegError, OSError, ValueError, RuntimeError, EOFError) as exc:
        # FFmpeg reports bad packets as errors of these types; none of them means a bug here
        raise media_error(
            MediaErrorReason.CORRUPT, f"the {fmt} video cannot be decoded ({_ffmpeg_text(exc)})"
        ) from None


def _ffmpeg_text(exc: Exception) -> str:
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__
