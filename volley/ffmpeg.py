"""Running the ffmpeg command line. Every failure becomes an `FFmpegError` that
carries the exit code and the tail of stderr, so a user or operator sees why."""

from __future__ import annotations

import subprocess
from pathlib import Path

from volley.exceptions import FFmpegError
from volley.settings import ffmpeg_binary


def run_ffmpeg(args: list[str], *, cwd: Path | None = None) -> None:
    """Run `ffmpeg ARGS...` quietly, overwriting outputs; raise FFmpegError on failure."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace")  # an argument list, no shell  # nosec B603
    except FileNotFoundError:
        raise FFmpegError(cmd, 127, f"{cmd[0]}: not found; run scripts/setup") from None
    if done.returncode != 0:
        raise FFmpegError(cmd, done.returncode, done.stderr)
