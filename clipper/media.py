"""What clipper needs to know of a media file (PyAV, headers and one frame):
whether a browser plays it as it is, and whether two files can be joined by
stream copy."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from volley import defaults
from volley.exceptions import FFmpegError


@dataclass(frozen=True)
class Media:
    duration: float  # seconds: the picture's (the video track's duration)
    video: tuple  # codec, profile, pixel format, width, height, sample aspect ratio, rotation
    audio: tuple | None  # codec, sample rate, channels; None without audio
    width: int  # display size (after rotation)
    height: int

    @property
    def web_ready(self) -> bool:
        """H.264 a browser decodes, with AAC audio or none: needs a remux at most."""
        codec, profile, pix_fmt = self.video[:3]
        audio_ok = self.audio is None or self.audio[0] == "aac"
        video_ok = profile in defaults.WEB_H264_PROFILES and pix_fmt in defaults.WEB_PIX_FMTS
        return codec == "h264" and video_ok and audio_ok

    def joins_with(self, other: "Media") -> bool:
        """True when the two can be concatenated by stream copy. H.264 clips may differ
        in profile: a clip whose first frames were re-encoded starts with x264's
        lowest fitting profile (Main) where one cut on a keyframe starts with the
        source's (High), and each clip carries its parameter sets in band, as its own
        parts already do (framer.parts)."""
        return _joinable(self.video) == _joinable(other.video) and self.audio == other.audio


def _joinable(video: tuple) -> tuple:
    """What must match for a stream-copy join: all of `Media.video`, the profile aside for H.264."""
    return video[:1] + video[2:] if video[0] == "h264" else video


def is_faststart(path: Path) -> bool:
    """True when the MP4's index (moov) comes before its media data (mdat), so a
    browser can start playing before the download ends. Reads box headers only."""
    with open(path, "rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind in (b"moov", b"mdat"):
                return kind == b"moov"
            if size == 1:  # a 64-bit size follows the type
                size = int.from_bytes(f.read(8), "big") - 8
            if size < 8:
                return False
            f.seek(size - 8, 1)
    return False


def probe(path: Path) -> Media:
    """Read a media file's streams; a file FFmpeg's libraries cannot read is an FFmpegError
    like any other ffmpeg failure (it names the file and FFmpeg's message)."""
    try:
        return _probe(path)
    except av.FFmpegError as err:
        raise FFmpegError(["libavformat (PyAV)", str(path)], abs(err.errno or 1), str(err)) from None


def _probe(path: Path) -> Media:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        ctx = video.codec_context
        rotation = _rotation(container, video)
        audio = None
        if container.streams.audio:
            actx = container.streams.audio[0].codec_context
            audio = (actx.name, actx.sample_rate, actx.channels)
        sar = Fraction(ctx.sample_aspect_ratio or 1)
        width, height = round(ctx.width * sar), ctx.height
        if rotation in (90, 270):
            width, height = height, width
        return Media(
            duration=float((video.duration or 0) * video.time_base) or (container.duration or 0) / 1e6,
            video=(ctx.name, ctx.profile, ctx.pix_fmt, ctx.width, ctx.height, sar, rotation),
            audio=audio,
            width=width,
            height=height,
        )


def _rotation(container, stream) -> int:
    """Display rotation (degrees, counterclockwise as ffmpeg stores it), off the first frame."""
    try:
        frame = next(container.decode(stream))
    except (av.FFmpegError, StopIteration):
        return 0
    return round(getattr(frame, "rotation", 0) or 0) % 360


def keyframe_times(path: Path) -> list[float]:
    """The times (s, as ffmpeg's -ss counts them: from the file's start) of the video's
    keyframes. Reads packet headers only."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = (container.start_time or 0) / 1e6
        return sorted(
            float(packet.pts * stream.time_base) - start
            for packet in container.demux(stream)
            if packet.is_keyframe and packet.pts is not None
        )
