"""One rally's web clip: a faststart MP4 a browser plays (its poster: clipper.posters)."""

from __future__ import annotations

import shutil
from pathlib import Path

from clipper.files import replacing
from clipper.media import Media, is_faststart
from volley import defaults
from volley.ffmpeg import run_ffmpeg

#: The re-encode for anything a browser would not play as it is.
WEB_ENCODE = [
    "-c:v", "libx264", "-preset", defaults.X264_PRESET, "-crf", str(defaults.X264_CRF),
    "-pix_fmt", "yuv420p", "-profile:v", "high", "-c:a", "aac", "-b:a", defaults.AAC_BITRATE,
]


def write_clip(segment: Path, media: Media, clip: Path) -> None:
    """The segment with the index (moov) first, so playback starts before the
    download ends: copied when it is so already, remuxed when not, re-encoded only
    if a browser could not play it."""
    codecs = ["-c", "copy"] if media.web_ready else WEB_ENCODE
    with replacing(clip) as tmp:
        if media.web_ready and is_faststart(segment):
            shutil.copyfile(segment, tmp)
            return
        run_ffmpeg(
            ["-i", str(segment), "-map", "0:v:0", "-map", "0:a:0?", *codecs,
             "-movflags", "+faststart", "-f", "mp4", str(tmp)]
        )
