"""Open a video and describe it, or say clearly why it cannot be used.

Everything here reads headers and, at most, the first packets: probing a 3-hour
game takes milliseconds. Times come from PTS and time base (see volley.timecode).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from volley.exceptions import EmptyInput, NotAVideo, TruncatedVideo
from volley.payloads import VideoInfo

#: Codecs that hold still pictures: a file with one of these is an image, not a game.
IMAGE_CODECS = {"png", "mjpeg", "jpeg2000", "bmp", "gif", "webp", "tiff", "jpegls"}


def open_container(path: Path) -> av.container.InputContainer:
    """Open `path` with PyAV, mapping every failure to a named BadInput error."""
    path = Path(path)
    if not path.is_file():
        raise NotAVideo(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise EmptyInput(f"{path.name}: the file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except av.error.InvalidDataError:
        raise _unreadable(path) from None
    except av.error.FFmpegError as err:
        raise NotAVideo(f"{path.name}: cannot be read as a video ({err.strerror})") from None


def _unreadable(path: Path) -> Exception:
    """An mp4/mov whose header is missing was most likely cut off during upload."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] in (b"ftyp", b"mdat", b"moov", b"wide", b"free"):
        return TruncatedVideo(f"{path.name}: the video is truncated (its index is missing); upload it again")
    return NotAVideo(f"{path.name}: not a video file")


def video_stream(container: av.container.InputContainer, name: str) -> av.video.stream.VideoStream:
    streams = [s for s in container.streams.video if s.codec_context.name not in IMAGE_CODECS]
    if not streams:
        if container.streams.video:
            raise NotAVideo(f"{name}: this is a still image, not a video")
        if container.streams.audio:
            raise NotAVideo(f"{name}: holds only audio, no video")
        raise NotAVideo(f"{name}: holds no video stream")
    return streams[0]


def probe(path: Path) -> VideoInfo:
    """Describe the video from its headers (duration and fps are the header's word;
    `vproc.decode` corrects them from the frames it actually decodes)."""
    path = Path(path)
    with open_container(path) as container:
        stream = video_stream(container, path.name)
        duration = _stream_duration(container, stream)
        rotation = _rotation(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        return VideoInfo(
            duration=duration,
            fps=float(rate),
            width=width,
            height=height,
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "",
            rotation=rotation,
            has_audio=bool(container.streams.audio),
            ffmpeg_offset=_ffmpeg_offset(container, stream),
        )


def _stream_duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    raise TruncatedVideo("the video has no duration in its header; it may be truncated")


def _ffmpeg_offset(container, stream) -> float:
    """ffmpeg's -ss counts from the container start; Volley from the first video PTS."""
    first = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    container_start = container.start_time / av.time_base if container.start_time is not None else 0.0
    return first - container_start


def _rotation(container, stream) -> int:
    """Clockwise degrees a player turns the coded picture, from the display matrix."""
    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):
        return 0
    # PyAV reports the display matrix angle counter-clockwise.
    return int(round(-(frame.rotation or 0))) % 360
