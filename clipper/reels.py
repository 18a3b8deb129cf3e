"""Reels: clips joined end to end (the digest, the best-of).

Clips cut from one source share their stream parameters, so they are joined by
the concat demuxer with the video stream-copied: no quality loss, seconds for a
whole game (only the audio is re-encoded, see AUDIO). Each clip's H.264 carries
its parameter sets in band (see framer.parts), so the joined stream decodes
cleanly. If the clips differ (size, codec, audio layout...), each is first
re-encoded to the first clip's display size and one audio format, and those are
joined the same way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from clipper.clips import WEB_ENCODE
from clipper.files import PREFIX, replacing
from clipper.media import Media, probe
from volley import defaults
from volley.ffmpeg import run_ffmpeg


#: Audio is re-encoded (cheap) rather than copied: an MP4 track has no gaps, so copied
#: AAC would butt each clip's encoder priming and padding onto the previous clip and
#: drift up to an AAC frame (21 ms) at each join. Decoded, the priming is dropped, and
#: aresample puts every sample at its clip's timestamps (padding gaps with silence).
AUDIO = [
    "-c:a", "aac", "-b:a", defaults.AAC_BITRATE,
    "-af", "aresample=async=1:min_hard_comp=0.001:first_pts=0",
]


def write_reel(clips: list[tuple[Path, Media]], reel: Path) -> None:
    """Join `clips` in order into `reel` (a faststart MP4)."""
    first = clips[0][1]
    if all(media.joins_with(first) for _, media in clips):
        _concat(clips, reel)
        return
    with tempfile.TemporaryDirectory(dir=reel.parent, prefix=f"{PREFIX}{reel.stem}-") as tmp:
        audio = any(media.audio for _, media in clips)
        uniform = []
        for n, (path, media) in enumerate(clips):
            uniform.append(Path(tmp) / f"clip-{n:03d}.mp4")
            _normalise(path, media, first, audio, uniform[-1])
        _concat([(path, probe(path)) for path in uniform], reel)


def _concat(clips: list[tuple[Path, Media]], reel: Path) -> None:
    """Each clip takes exactly its picture's time, counted from its first frame
    (inpoint 0, not from the AAC priming before it), so the reel lasts as long as the
    clips. The silent padding of a clip's last AAC frame overlaps the next clip by at
    most 21 ms; aresample trims that much off the next clip's first sound (1.5 s
    before the serve), keeping every clip's sound on its pictures."""
    listing = reel.parent / f"{PREFIX}{reel.stem}.ffconcat"
    lines = ["ffconcat version 1.0"]
    for path, media in clips:
        name = str(path.resolve()).replace("'", "'\\''")
        lines += [f"file '{name}'", "inpoint 0", f"duration {media.duration:.6f}"]
    listing.write_text("\n".join(lines) + "\n")
    try:
        with replacing(reel) as tmp:
            run_ffmpeg(
                ["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-map", "0:a:0?",
                 "-c:v", "copy", *AUDIO, "-movflags", "+faststart", "-f", "mp4", str(tmp)]
            )
    finally:
        listing.unlink(missing_ok=True)


def _normalise(path: Path, media: Media, target: Media, audio: bool, out: Path) -> None:
    """Re-encode one clip to the target's display size (letterboxed) and, when the reel
    has sound, to 48 kHz stereo AAC, adding silence to a clip without audio."""
    w, h = target.width // 2 * 2, target.height // 2 * 2
    fit = f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    args = ["-i", str(path)]
    if audio and media.audio is None:
        args += ["-f", "lavfi", "-t", f"{media.duration:.6f}", "-i", "anullsrc=r=48000:cl=stereo"]
    args += ["-map", "0:v:0"]
    if audio:
        args += ["-map", "0:a:0" if media.audio else "1:a:0", "-ar", "48000", "-ac", "2"]
    # One time scale for all: the concat demuxer keeps the first clip's, and frame
    # times in another would be rounded onto it.
    args += ["-vf", fit, "-fps_mode", "passthrough", *WEB_ENCODE, "-video_track_timescale", "90000"]
    run_ffmpeg([*args, "-f", "mp4", str(out)])
