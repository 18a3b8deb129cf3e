"""What the framer reads from a source with PyAV: the video stream's facts (time
base, codec, pixel format, profile, rotation) and the packets around one cut.
Beyond the first frame (for the rotation) it only seeks and demuxes: a scan reads
the compressed packets of a few seconds, however long the game is."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from framer import nal
from volley import defaults
from volley.exceptions import NotAVideo

#: x264's name for each profile a browser decodes (volley.defaults.WEB_H264_PROFILES).
X264_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline", "Main": "main", "High": "high"}
#: Read this far past the cut's end so that every frame shown before it is seen
#: (a B-frame can be stored after frames shown later).
LOOKAHEAD = Fraction(1)


@dataclass(frozen=True)
class Packet:
    """One compressed video frame, in decode order; times in stream ticks."""

    pts: int
    dts: int
    duration: int
    key: bool
    idr: bool


@dataclass(frozen=True)
class Facts:
    """The video stream's properties that decide how to cut it."""

    time_base: Fraction
    start: Fraction  # the container's start time: ffmpeg's `-ss 0` (seconds)
    codec: str
    pix_fmt: str
    profile: str
    interlaced: bool
    interval: int  # nominal frame duration in ticks (from the average rate)
    has_audio: bool
    nal_prefix: int  # 0 = Annex B packets, else the NAL length-prefix size
    param_ids: frozenset[int]  # SPS/PPS ids the source's header uses
    rotation: int = 0  # display-matrix angle, counterclockwise degrees (as ffprobe shows it)
    b_frames: bool = False  # frames are stored out of display order (a reorder delay)

    @property
    def smart_cuttable(self) -> bool:
        """Browser-friendly progressive H.264 whose packets can be copied as they are."""
        return (
            self.codec == "h264"
            and self.pix_fmt in defaults.WEB_PIX_FMTS
            and self.profile in defaults.WEB_H264_PROFILES
            and not self.interlaced
        )

    def ticks(self, ffmpeg_seconds: float) -> int:
        """A time as ffmpeg's `-ss` means it, in stream ticks."""
        return round((Fraction(ffmpeg_seconds).limit_denominator(10**6) + self.start) / self.time_base)

    def seconds(self, ticks: int) -> Fraction:
        """Stream ticks as ffmpeg's `-ss` means them (may be negative before the start)."""
        return ticks * self.time_base - self.start


class Source:
    """An open source file: its facts, and packet scans around cut points."""

    def __init__(self, path: Path):
        try:
            self._container = av.open(str(path))
        except av.FFmpegError as err:
            raise NotAVideo(f"{path}: {err}") from None
        if not self._container.streams.video:
            self._container.close()
            raise NotAVideo(f"{path}: no video stream")
        self._stream = self._container.streams.video[0]
        self.facts = _facts(self._container, self._stream)

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self._container.close()

    def scan(self, first: int, last: int) -> list[Packet]:
        """Packets in decode order from the keyframe at or before `first` until
        LOOKAHEAD past `last` (ticks), or to the end of the file."""
        stop = last + round(LOOKAHEAD / self.facts.time_base)
        file_start = self._stream.start_time or 0
        target, step = first, round(1 / self.facts.time_base)
        for _ in range(12):
            packets = self._read(target, stop)
            # A seek can land past the target (indexes by DTS, edit lists, MPEG-TS
            # bisecting on byte positions): go back further, past the file's start if need be.
            if not packets or packets[0].pts <= first or target < file_start - step:
                break
            target, step = min(target, packets[0].pts) - step, step * 2
        return packets

    def _read(self, target: int, stop: int) -> list[Packet]:
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        packets: list[Packet] = []
        for pkt in self._container.demux(self._stream):
            if pkt.size == 0 or (pkt.pts is None and pkt.dts is None):
                continue
            if not packets and not pkt.is_keyframe:
                continue  # a demuxer may resume just before the keyframe it sought
            pts = pkt.pts if pkt.pts is not None else pkt.dts
            dts = pkt.dts if pkt.dts is not None else pts
            idr = pkt.is_keyframe and nal.is_idr(bytes(pkt), self.facts.nal_prefix)
            packets.append(Packet(pts, dts, pkt.duration or 0, pkt.is_keyframe, idr))
            if dts > stop:
                break
        return packets


def _facts(container, stream) -> Facts:
    ctx = stream.codec_context
    rate = stream.average_rate or stream.guessed_rate or 25
    time_base = Fraction(stream.time_base)
    extradata = bytes(ctx.extradata or b"")
    return Facts(
        time_base=time_base,
        start=Fraction(container.start_time or 0, 1_000_000),
        codec=ctx.name,
        pix_fmt=ctx.pix_fmt or "",
        profile=ctx.profile or "",
        interlaced=ctx.field_order not in (0, 1),  # unknown or progressive
        interval=max(1, round(1 / (Fraction(rate) * time_base))),
        has_audio=bool(container.streams.audio),
        nal_prefix=nal.length_size(extradata),
        param_ids=frozenset(nal.parameter_set_ids(nal.extradata_nals(extradata))),
        rotation=_rotation(container, stream),
        b_frames=bool(ctx.has_b_frames),
    )


def _rotation(container, stream) -> int:
    """The display rotation, read off the first frame: the file's own truth, in the
    convention ffmpeg's `rotate` tag is written with (counterclockwise degrees)."""
    try:
        frame = next(container.decode(stream))
    except (av.FFmpegError, StopIteration):
        return 0
    return round(getattr(frame, "rotation", 0) or 0) % 360
