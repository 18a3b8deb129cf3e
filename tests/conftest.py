"""Shared fixtures: small real video files made with ffmpeg at test time."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from volley.payloads import VideoInfo

pytest_plugins = ["tests.service_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
REALDATA = ROOT.parent / "shared" / "realdata"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def still_video(media_dir) -> Path:
    """Ten seconds of a test pattern with a sine tone: a valid video with no ball in it."""
    path = media_dir / "still.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=10",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=10",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path),
    )
    return path


def realdata(*parts: str) -> Path:
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"real footage missing: {path} (CI clones ../shared beside the project)")
    return path


# --- numbered-frame games (framer and clipper tests) ---------------------------
# Small generated game videos whose every frame shows its own number (a row of
# black/white blocks, bit 0 on the left), so a test can read back exactly which
# source frames a cut or a reel holds. Generated once per session.

BLOCK = 40  # block size in pixels
BITS = 12  # frame numbers up to 4095
#: The audio: a 0.1 s 880 Hz sine beep starting on every whole second, so a test can
#: measure where the sound is against the numbered pictures.
BEEPS = "exprs=0.5*sin(2*PI*880*t)*lt(mod(t\\,1)\\,0.1)"


@dataclass(frozen=True)
class Game:
    """A generated source: where it is, what Volley knows of it, and frame timing."""

    path: Path
    info: VideoInfo
    times: tuple[float, ...]  # Volley time of each frame number
    beep_shift: float = 0.0  # the audio beeps at Volley times k + beep_shift (k = 0, 1, 2...)

    def frame_at(self, t: float) -> int:
        """The number of the frame showing at Volley time t."""
        return max(n for n, start in enumerate(self.times) if start <= t + 1e-6)

    def last_before(self, t: float) -> int:
        """The number of the last frame starting before Volley time t."""
        return max(n for n, start in enumerate(self.times) if start < t - 1e-6)


def frame_numbers(path: Path) -> list[int]:
    """Decode a video and read each frame's number off its block row."""
    numbers = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            numbers.append(read_number(frame.to_ndarray(format="gray")))
    return numbers


def read_number(gray: np.ndarray) -> int:
    row = gray[BLOCK // 2, [b * BLOCK + BLOCK // 2 for b in range(BITS)]]
    return sum(1 << b for b, value in enumerate(row) if value > 128)


def ffprobe(path: Path, entries: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def decode_errors(path: Path) -> str:
    """What `ffmpeg -xerror` reports decoding the whole file (empty when clean)."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True,
    )
    return done.stderr.strip() or ("" if done.returncode == 0 else f"exit {done.returncode}")


def beep_onsets(path: Path) -> list[float]:
    """Times (seconds, the file's timeline) where a beep starts after 0.3 s of quiet."""
    times, levels = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            level = np.abs(frame.to_ndarray()).max(axis=0)
            start = float(frame.pts * frame.time_base)
            times.append(start + np.arange(len(level)) / frame.sample_rate)
            levels.append(level)
    times, loud = np.concatenate(times), np.concatenate(levels) > 0.1
    at = times[loud]
    after_quiet = [n == 0 and t - times[0] > 0.3 or n > 0 and t - at[n - 1] > 0.3 for n, t in enumerate(at)]
    return [float(t) for t, starts in zip(at, after_quiet) if starts]


def sync_errors(path: Path, game: "Game") -> list[float]:
    """For each beep heard in `path`: how far (seconds) the sound is from where the
    numbered pictures shown at that moment say it belongs. Beeps in the first 25 ms
    of a joined clip are left out: a reel may trim up to one AAC frame (21 ms) of a
    clip's first sound, which makes a beep there start late without any drift."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        shown = [
            (float(f.pts * stream.time_base), read_number(f.to_ndarray(format="gray")))
            for f in container.decode(stream)
        ]
    joins = [b[0] for a, b in zip(shown, shown[1:]) if b[1] != a[1] + 1]  # where a clip starts
    errors = []
    for onset in beep_onsets(path):
        if any(0 <= onset - join < 0.025 for join in joins):
            continue
        # a beep starts with a frame: allow the onset to be read a little early
        pts, number = max((s for s in shown if s[0] <= onset + 0.005), default=shown[0])
        source_time = game.times[number] + (onset - pts)
        errors.append(source_time - game.beep_shift - round(source_time - game.beep_shift))
    return errors


def stream_durations(path: Path) -> dict[str, float]:
    """Duration of each stream type as the container states it (MP4: the track's)."""
    data = ffprobe(path, "stream=codec_type,duration")
    return {s["codec_type"]: float(s["duration"]) for s in data["streams"] if "duration" in s}


def probe(path: Path) -> VideoInfo:
    """VideoInfo as Volley's probe defines it (0 = first video frame's PTS)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base)
        packets = [p for p in container.demux(stream) if p.size and p.pts is not None]
        first = min(p.pts for p in packets) * tb
        end = max((p.pts + (p.duration or 0)) for p in packets) * tb
        rotation = -round(stream_rotation(path)) % 360
        return VideoInfo(
            duration=float(end - first),
            fps=float(stream.average_rate or 0),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            codec=stream.codec_context.name,
            rotation=rotation,
            has_audio=bool(container.streams.audio),
            ffmpeg_offset=float(first - Fraction(container.start_time or 0, 1_000_000)),
            frame_count=len(packets),
        )


def stream_rotation(path: Path) -> float:
    """Counterclockwise display rotation of the first video stream, as ffprobe reports it."""
    data = ffprobe(path, "stream_side_data=rotation")
    for stream in data.get("streams", []):
        for side in stream.get("side_data_list", []):
            if "rotation" in side:
                return float(side["rotation"])
    return 0.0


def _pictures(width: int, height: int, count: int):
    base = np.tile(np.linspace(40, 215, width).astype(np.uint8), (height, 1))
    for n in range(count):
        picture = np.roll(base, 4 * n, axis=1)  # moving content, so P/B-frames carry data
        for b in range(BITS):
            picture[:BLOCK, b * BLOCK : (b + 1) * BLOCK] = 255 if (n >> b) & 1 else 0
        yield picture.tobytes()


def make_game(
    path: Path,
    *,
    seconds: float,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    audio: bool = True,
    codec: list[str] | None = None,
    vfr: bool = False,
) -> Game:
    """Encode a numbered-frame video (H.264 with B-frames, GOP 2 s unless `codec` says
    otherwise). `vfr`: every 5th frame lasts 1.5 frames."""
    width, height = size
    count = int(seconds * fps)
    codec = codec or ["-c:v", "libx264", "-preset", "veryfast", "-bf", "3"]
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray"]
    cmd += ["-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    if audio:
        length = seconds * 1.5 if vfr else seconds  # as long as the video, or longer
        cmd += ["-f", "lavfi", "-i", f"aevalsrc={BEEPS}:s=48000:d={length}"]
    ticks = 1000 * fps  # a time base in which every frame time is whole
    if vfr:
        cmd += ["-vf", f"settb=1/{ticks},setpts='1000*(N+0.5*floor(N/5))'", "-fps_mode", "passthrough"]
        cmd += ["-enc_time_base", f"1:{ticks}"]
    cmd += [*codec, "-g", str(2 * fps), "-keyint_min", str(2 * fps), "-sc_threshold", "0"]
    cmd += ["-pix_fmt", "yuv420p"] if "-pix_fmt" not in codec else []
    cmd += ["-c:a", "aac", "-b:a", "96k"] if audio else []
    cmd += [str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for picture in _pictures(width, height, count):
        proc.stdin.write(picture)
    proc.stdin.close()
    assert proc.wait() == 0, f"could not generate {path}"
    if vfr:
        times = tuple((n + 0.5 * (n // 5)) / fps for n in range(count))
    else:
        times = tuple(n / fps for n in range(count))
    return Game(path, probe(path), times)


def remux(game: Game, path: Path, *extra: str, video_delay: float = 0.0) -> Game:
    """The same frames in another container or with other metadata (no re-encode).
    `video_delay`: the video starts this long after the audio, so ffmpeg's time 0
    (the container's start) is not the first video frame."""
    src = str(game.path)
    inputs = ["-itsoffset", str(video_delay), "-i", src, "-i", src] if video_delay else ["-i", src]
    maps = ["-map", "0:v", "-map", "1:a"] if video_delay else ["-map", "0"]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, *maps, "-c", "copy", *extra, str(path)],
        check=True,
    )
    return Game(path, probe(path), game.times, game.beep_shift - video_delay)


@pytest.fixture(scope="session")
def games(tmp_path_factory) -> dict[str, Game]:
    """The generated sources, by name."""
    root = tmp_path_factory.mktemp("games")
    made: dict[str, Game] = {}
    made["bframes"] = make_game(root / "bframes.mp4", seconds=30)
    made["plain"] = make_game(
        root / "plain.mp4", seconds=20, fps=30, size=(480, 272), audio=False,
        codec=["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline"],
    )
    made["vfr"] = make_game(root / "vfr.mp4", seconds=10, vfr=True)
    made["hevc"] = make_game(
        root / "hevc.mp4", seconds=6,
        codec=["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"],
    )
    made["interlaced"] = make_game(
        root / "interlaced.mp4", seconds=6,
        codec=["-c:v", "libx264", "-preset", "veryfast", "-flags", "+ildct+ilme", "-x264-params", "tff=1"],
    )
    made["ts"] = remux(made["bframes"], root / "bframes.ts")
    made["delayed"] = remux(made["vfr"], root / "delayed.mp4", video_delay=0.5)
    made["rotated"] = remux(made["vfr"], root / "rotated.mp4", "-metadata:s:v:0", "rotate=90")
    return made
