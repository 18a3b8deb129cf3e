"""Decode a video once, yielding small grey frames stamped with their PTS time.

This is Volley's one video backend. Frames stay in memory: each is converted to
a small luma image for analysis and dropped. Times come from each frame's PTS and
the stream's time base, shifted so that 0 is the first frame; frame numbers are
never used as times.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

from volley import defaults
from volley.exceptions import TruncatedVideo
from volley.timecode import Timecode
from vproc.probe import open_container, video_stream


@dataclass(frozen=True)
class Frame:
    """One analysed frame: `t` seconds since the first frame, `image` grey at analysis size."""

    t: float
    image: np.ndarray


@dataclass
class DecodeStats:
    frames: int = 0  # frames decoded
    analysed: int = 0  # frames handed to the detector
    first_pts: int | None = None  # in the stream's time base
    last_t: float = 0.0
    frame_step: float = 0.0  # median spacing of decoded frames (s)
    every_frame: bool = True  # False when non-reference frames were skipped


def analysis_size(width: int, height: int, target_height: int = defaults.ANALYSIS_HEIGHT) -> tuple[int, int]:
    """(width, height) of the analysis image for a coded picture, never upscaling."""
    if height <= target_height:
        return width, height
    scale = target_height / height
    return max(2, int(round(width * scale / 2)) * 2), target_height


def _analysis_stream(container, name: str):
    stream = video_stream(container, name)
    stream.thread_type = "AUTO"
    # The detector works on a 360p grey image: skipping the deblocking filter
    # changes nothing it can see and saves about a sixth of decode time.
    stream.codec_context.options = {"skip_loop_filter": "all", "flags2": "+fast"}
    return stream


def _luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane without a colour conversion (8-bit formats); gray conversion otherwise."""
    plane = frame.planes[0]
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "nv12", "nv21"):
        return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
    return frame.to_ndarray(format="gray")


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    if rotation == 90:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if rotation == 180:
        return cv2.rotate(image, cv2.ROTATE_180)
    if rotation == 270:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


class FrameSource:
    """Iterate over a video's frames once, at most `max_fps` of them per second."""

    def __init__(self, path: Path, rotation: int = 0, max_fps: float = defaults.ANALYSIS_FPS_MAX):
        self.path = Path(path)
        self.rotation = rotation
        self.min_step = 1.0 / max_fps if max_fps > 0 else 0.0
        self.stats = DecodeStats()
        self.scale = 1.0  # analysis pixels -> display pixels

    def __iter__(self) -> Iterator[Frame]:
        return decoded_ahead(self._decode(), defaults.DECODE_AHEAD)

    def _decode(self) -> Iterator[Frame]:
        skip_nonref = self._can_skip_nonref()
        with open_container(self.path) as container:
            stream = _analysis_stream(container, self.path.name)
            if skip_nonref:
                stream.codec_context.skip_frame = "NONREF"
                self.stats.every_frame = False
            yield from self._frames(container, stream)

    def _can_skip_nonref(self) -> bool:
        """Above the analysis rate, frames no other frame refers to (most B-frames)
        need not be decoded at all, if the frames left are still evenly spaced at
        about the analysis rate: that holds for the usual encoder settings, and is
        checked on the first second or two of the file, never assumed."""
        if self.min_step <= 0:
            return False
        with open_container(self.path) as container:
            stream = _analysis_stream(container, self.path.name)
            rate = float(stream.average_rate or 0)
            if rate < 1.5 / self.min_step:
                return False
            stream.codec_context.skip_frame = "NONREF"
            times = []
            for frame in container.decode(stream):
                if frame.pts is not None:
                    times.append(float(frame.pts * stream.time_base))
                if len(times) >= 60:
                    break
        steps = np.diff(sorted(times))
        return len(steps) >= 30 and float(np.median(steps)) <= 1.3 * self.min_step and float(steps.max()) <= 2.6 * self.min_step

    def _frames(self, container, stream) -> Iterator[Frame]:
        time_base = stream.time_base
        next_t = 0.0
        size = None
        steps: list[float] = []
        previous = None
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue  # a frame without a timestamp cannot be placed on the timeline
                if self.stats.first_pts is None:
                    self.stats.first_pts = frame.pts
                # Subtract in ticks, then convert: the same frame gets the same time
                # whatever the file's start time (no float rounding of a big offset).
                t = Timecode.from_pts(frame.pts - self.stats.first_pts, time_base).seconds
                self.stats.frames += 1
                if previous is not None and len(steps) < 500:
                    steps.append(t - previous)
                previous = t
                self.stats.last_t = max(self.stats.last_t, t)
                if t + 1e-6 < next_t:
                    continue
                next_t = t + self.min_step * 0.95
                if size is None:
                    size = analysis_size(frame.width, frame.height)
                    self.scale = frame.height / size[1]
                # Bilinear is 8x cheaper than area averaging at 1080p and keeps a 3+ px ball.
                image = cv2.resize(_luma(frame), size, interpolation=cv2.INTER_LINEAR)
                self.stats.analysed += 1
                yield Frame(t, _rotate(image, self.rotation))
        except av.error.FFmpegError as err:
            raise TruncatedVideo(f"{self.path.name}: the video stops decoding at {self.stats.last_t:.1f} s ({err.strerror})") from None
        self.stats.frame_step = float(np.median(steps)) if steps else 0.0


def decoded_ahead(frames: Iterator[Frame], depth: int) -> Iterator[Frame]:
    """Run `frames` (the decoding loop) in a thread of its own, up to `depth` frames
    ahead of the consumer: PyAV and OpenCV release the GIL while they decode and
    shrink, so the detector works on one frame while the next ones are decoded.
    Errors reach the consumer; a consumer that stops early stops the thread."""
    if depth <= 0:
        yield from frames
        return
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        handoff.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(done)
        except BaseException as err:  # handed to the consumer, raised there
            handoff.put(err)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # the container, also when the consumer stopped early

    thread = threading.Thread(target=produce, name="volley-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                handoff.get_nowait()
            except queue.Empty:
                thread.join(0.05)
