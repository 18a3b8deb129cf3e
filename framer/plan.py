"""Planning a smart cut from the packets around it (pure: no I/O, easy to test).

A cut [a, b) becomes up to three parts, each a run of frames in display order:

- head: the frames before the first IDR keyframe in the range, re-encoded
  (nothing can be copied before an IDR: those frames depend on earlier ones);
- body: packets copied as they are, from that IDR up to the last "clean" point,
  where every packet stored before it is shown before every packet stored after
  it and none is past the cut. Copying further would drag along a frame shown
  after the cut end (a P-frame that the last B-frames reference), and dropping
  that frame would leave those B-frames undecodable;
- tail: the few frames between that clean point and the cut end, re-encoded.

Without B-frames every packet boundary is clean, so there is no tail. A range
with no IDR inside, or a source that cannot be copied, is one re-encoded part.
"""

from __future__ import annotations

from dataclasses import dataclass

from framer.source import Packet


@dataclass(frozen=True)
class Part:
    """A run of consecutive frames; times are stream ticks."""

    copy: bool  # copy packets as they are, else decode and re-encode
    first: int  # pts of the first frame
    end: int  # pts just after the last frame: where the next part starts
    seek: int  # seek here first (ffmpeg goes to the keyframe at or before it)
    frames: int  # frames in the part (a copy's packet count)
    last: int  # pts of the last frame

    @property
    def duration(self) -> int:
        return self.end - self.first


@dataclass(frozen=True)
class Plan:
    parts: tuple[Part, ...]

    @property
    def first(self) -> int:
        return self.parts[0].first

    @property
    def end(self) -> int:
        return self.parts[-1].end

    @property
    def frames(self) -> int:
        return sum(part.frames for part in self.parts)

    @property
    def copies(self) -> bool:
        return any(part.copy for part in self.parts)


def plan_cut(packets: list[Packet], a: int, b: int, tolerance: int, copyable: bool) -> Plan:
    """Plan the frames shown over [a, b): from the frame showing at `a` to the last
    one starting before `b` (`tolerance` absorbs rounding of the requested times),
    except that a smart cut whose tail would be that last frame alone ends before it."""
    shown = sorted(p.pts for p in packets)
    before = [pts for pts in shown if pts <= a + tolerance]
    first = before[-1] if before else shown[0]
    wanted = [pts for pts in shown if first <= pts < b - tolerance] or [first]
    last, end = wanted[-1], _end_of(packets, shown, wanted[-1])
    whole = Part(False, first, end, _seek_before(packets, first), len(wanted), last)
    start = _first_idr(packets, first, last) if copyable else None
    if start is None:
        return Plan((whole,))
    parts = []
    if packets[start].pts > first:
        parts.append(_encoded(packets, wanted, first, packets[start].pts, _seek_before(packets, first)))
    body, rest = _copied(packets, start, last, end)
    if rest is not None and rest == last:
        # Re-encoding a one-frame tail costs decoding most of a GOP; ending one
        # frame early instead keeps the cut within one frame of the requested end.
        return Plan(tuple(parts) + (body,))
    parts.append(body)
    if rest is not None:
        parts.append(_encoded(packets, wanted, rest, end, _seek_idr(packets, start, body)))
    return Plan(tuple(parts))


def _copied(packets: list[Packet], start: int, last: int, end: int) -> tuple[Part, int | None]:
    """The longest clean run of packets from `start`; and the pts where the rest begins."""
    suffix_min = [0] * (len(packets) + 1)
    suffix_min[-1] = end  # past the scan: everything is shown at or after the end
    for i in range(len(packets) - 1, start - 1, -1):
        suffix_min[i] = min(packets[i].pts, suffix_min[i + 1])
    best, shown_max = start + 1, packets[start].pts
    for stop in range(start + 1, len(packets) + 1):
        shown_max = max(shown_max, packets[stop - 1].pts)
        if shown_max > last:
            break
        if shown_max < suffix_min[stop]:
            best = stop
    rest = suffix_min[best] if suffix_min[best] <= last else None
    shown = [p.pts for p in packets[start:best]]
    # The runner seeks half a frame before this keyframe, so rounding cannot skip it.
    body = Part(True, shown[0], rest if rest is not None else end, shown[0], len(shown), max(shown))
    return body, rest


def _encoded(packets: list[Packet], wanted: list[int], first: int, end: int, seek: int) -> Part:
    frames = [pts for pts in wanted if first <= pts < end]
    return Part(False, first, end, seek, len(frames), frames[-1])


def _end_of(packets: list[Packet], shown: list[int], last: int) -> int:
    """Where the frame at `last` stops showing: the next frame, or its own duration."""
    later = [pts for pts in shown if pts > last]
    if later:
        return later[0]
    duration = next((p.duration for p in packets if p.pts == last), 0)
    gaps = [b - a for a, b in zip(shown, shown[1:])]
    return last + (duration or (sorted(gaps)[len(gaps) // 2] if gaps else 1))


def _seek_before(packets: list[Packet], pts: int) -> int:
    """A seek target that makes ffmpeg start decoding at the keyframe before `pts`."""
    keys = [p for p in packets if p.key and p.pts <= pts] or [packets[0]]
    return min(keys[-1].dts, keys[-1].pts)  # indexes seek by DTS, which may precede the PTS


def _seek_idr(packets: list[Packet], start: int, body: Part) -> int:
    """Seek target for the tail: the last IDR copied, so the tail decodes from clean state."""
    idrs = [p for p in packets[start : start + body.frames + 1] if p.idr]
    return min(idrs[-1].dts, idrs[-1].pts)


def _first_idr(packets: list[Packet], first: int, last: int) -> int | None:
    return next((i for i, p in enumerate(packets) if p.idr and first <= p.pts <= last), None)
