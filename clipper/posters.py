"""A rally's poster: one frame of its clip as a JPEG, upright, with square pixels.

Made in process with PyAV and OpenCV rather than by an ffmpeg run: a poster is one
decoded frame (a keyframe, when one lies close enough, see clipper.build), and
starting ffmpeg cost more than the decoding itself (0.15-0.3 s a poster against
a few tens of milliseconds).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from clipper.files import replacing
from volley import defaults
from volley.exceptions import FFmpegError


def write_poster(clip: Path, at: float, poster: Path, keyframe: bool = False) -> None:
    """Save the first frame from `at` seconds into the clip on (as ffmpeg's -ss counts
    them), at most POSTER_MAX_WIDTH wide. With `keyframe` (`at` is a keyframe's time)
    only keyframes are decoded: the poster is that keyframe."""
    try:
        frame, sar, rotation = _frame_at(clip, at, keyframe)
    except av.FFmpegError as err:
        raise FFmpegError(["libavcodec (PyAV)", str(clip)], abs(err.errno or 1), str(err)) from None
    image = _upright(frame, sar, rotation)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, defaults.POSTER_QUALITY])
    if not ok:
        raise FFmpegError(["cv2.imencode", str(poster)], 1, "could not encode the poster as JPEG")
    with replacing(poster) as tmp:
        tmp.write_bytes(jpeg.tobytes())


def _frame_at(clip: Path, at: float, keyframe: bool) -> tuple[av.VideoFrame, Fraction, int]:
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        if keyframe:
            stream.codec_context.skip_frame = "NONKEY"
        target = max(0.0, at) + (container.start_time or 0) / 1e6  # on the stream's timeline
        # Just past a keyframe's time, so rounding cannot put the seek before it.
        container.seek(round((target + (0.001 if keyframe else 0.0)) * 1e6), backward=True)
        found = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            found = frame
            if keyframe or frame.time >= target - 1e-6:
                break
        if found is None:
            raise FFmpegError(["libavcodec (PyAV)", str(clip)], 1, f"no frame to decode at {at:.3f} s")
        sar = Fraction(stream.codec_context.sample_aspect_ratio or 1)
        return found, sar, round(getattr(found, "rotation", 0) or 0) % 360


def _upright(frame: av.VideoFrame, sar: Fraction, rotation: int) -> np.ndarray:
    """The frame as a BGR image the way players show it: stretched by its sample aspect
    ratio, turned by its display rotation (counterclockwise degrees), scaled down."""
    shown_w, shown_h = frame.width * sar, Fraction(frame.height)
    if rotation in (90, 270):
        shown_w, shown_h = shown_h, shown_w
    width = int(min(defaults.POSTER_MAX_WIDTH, shown_w))
    height = 2 * int(width * shown_h / shown_w / 2)
    coded = (height, width) if rotation in (90, 270) else (width, height)  # before turning
    bgr = frame.reformat(width=coded[0], height=coded[1], format="bgr24", interpolation="AREA").to_ndarray()
    return np.ascontiguousarray(np.rot90(bgr, k=rotation // 90))
