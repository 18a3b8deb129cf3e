"""The ffmpeg commands that carry out a cut plan: re-encode a run of frames, copy
a run of packets, and join the parts (plus the range's audio, re-encoded) into
one MP4.

Parts are MPEG-TS files: H.264 there is Annex B with the SPS/PPS repeated before
every IDR, so after the join each piece still carries its own parameter sets in
band. The re-encoded pieces use SPS/PPS ids the source does not use, so no
decoder can apply one piece's parameters to another's slices, whatever order it
sees them in. Timestamps are joined by the concat demuxer with each part's exact
duration, so the source's frame timing (variable frame rate included) is kept.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from framer.plan import Part, Plan
from framer.source import X264_PROFILES, Facts
from volley import defaults
from volley.ffmpeg import run_ffmpeg


def seconds(value: Fraction) -> str:
    """A time for ffmpeg's command line (never negative, microsecond precision)."""
    return f"{max(0.0, float(value)):.6f}"


def encode_part(source: Path, facts: Facts, part: Part, out: Path, *, sps_id: int, transcode: bool) -> None:
    """Decode from the keyframe before the part and re-encode exactly its frames.

    -copyts keeps the source's timestamps, so `trim` selects frames by their PTS
    in stream ticks: the same numbers the plan was made from. The picture stays
    as coded (-noautorotate); rotation is set again as metadata at the join."""
    chain = f"trim=start_pts={part.first}:end_pts={part.last + 1},setpts=PTS-STARTPTS"
    args = ["-noautorotate", "-ss", seconds(facts.seconds(part.seek)), "-noaccurate_seek", "-copyts"]
    args += ["-i", str(source), "-map", "0:v:0", "-an", "-sn", "-dn"]
    if transcode:
        if facts.interlaced:  # browsers show fields as combs; one frame per frame keeps the timing
            chain += ",bwdif=mode=send_frame"  # after trim: it halves the time base
        chain += f",scale=-2:'2*trunc(min(ih,{defaults.WEB_MAX_HEIGHT})/2)'"
        codec = ["-pix_fmt", "yuv420p", "-profile:v", "high"]
        quality = ["-preset", defaults.X264_PRESET, "-crf", str(defaults.X264_CRF)]
    else:  # match the copied packets so the joined stream is one consistent H.264 stream
        codec = ["-pix_fmt", facts.pix_fmt, "-profile:v", X264_PROFILES[facts.profile]]
        quality = ["-preset", defaults.CUT_X264_PRESET, "-crf", str(defaults.CUT_X264_CRF)]
        # The same reorder delay as the copied packets (ultrafast has no B-frames): an
        # MP4 track's length is counted in decode times, and a part without the delay
        # shortened the joined track by two frames against its audio.
        quality += ["-bf", "3" if facts.b_frames else "0"]
    args += ["-vf", chain, "-fps_mode", "passthrough", "-enc_time_base", "-1"]
    args += ["-c:v", "libx264", *quality, *codec]
    args += ["-x264-params", f"sps-id={sps_id}", "-f", "mpegts", str(out)]
    run_ffmpeg(args)


def copy_part(source: Path, facts: Facts, part: Part, out: Path) -> None:
    """Copy exactly `part.frames` packets from the part's IDR keyframe.

    Seeking half a frame early makes ffmpeg start at that keyframe or the one
    before; with -copypriorss 0 it drops packets before the seek time, and it drops
    non-keyframes until the first keyframe kept: that is the part's IDR either way."""
    seek = facts.seconds(part.seek) - facts.interval * facts.time_base / 2
    args = ["-ss", seconds(seek), "-i", str(source), "-map", "0:v:0", "-c", "copy", "-copypriorss", "0"]
    args += ["-frames:v", str(part.frames), "-f", "mpegts", str(out)]
    run_ffmpeg(args)


def join(source: Path, facts: Facts, plan: Plan, files: list[Path], out: Path) -> None:
    """Concatenate the parts' video and add the range's audio, re-encoded to AAC.

    MPEG-TS parts lose the display matrix, so it is set again from the source:
    ffmpeg 5.1 writes a `rotate` tag as a counterclockwise display rotation, the
    same convention PyAV and ffprobe read it in."""
    listing = out.parent / "parts.ffconcat"
    lines = ["ffconcat version 1.0"]
    for path, part in zip(files, plan.parts):
        lines += [f"file '{path.name}'", f"duration {seconds(part.duration * facts.time_base)}"]
    listing.write_text("\n".join(lines) + "\n")
    inputs, maps = ["-f", "concat", "-i", str(listing)], ["-map", "0:v:0", "-c:v", "copy"]
    if facts.has_audio:
        length = (plan.end - plan.first) * facts.time_base
        inputs += ["-ss", seconds(facts.seconds(plan.first)), "-t", seconds(length), "-i", str(source)]
        maps += ["-map", "1:a:0", "-c:a", "aac", "-b:a", defaults.AAC_BITRATE]
    if facts.rotation:
        maps += ["-metadata:s:v:0", f"rotate={facts.rotation}"]
    # The index first (faststart): a segment is then already what a browser streams,
    # and clipper copies it instead of remuxing it.
    run_ffmpeg([*inputs, *maps, "-movflags", "+faststart", "-f", "mp4", str(out)])
