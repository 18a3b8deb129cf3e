"""Small named errors. Anything a user caused is a `BadInput`; the CLI turns it
into one line on stderr and exit status 2."""

from __future__ import annotations


class VolleyError(Exception):
    """Base class of every error Volley raises on purpose."""


class BadInput(VolleyError):
    """The input is not something Volley can process (not a video, truncated...)."""


class NotAVideo(BadInput):
    """The file holds no decodable video stream."""


class EmptyInput(BadInput):
    """The file is empty (zero bytes)."""


class TruncatedVideo(BadInput):
    """The file ends before its header says it should, or its frames do not decode."""


class VideoTooShort(BadInput):
    """The video is too short to hold a rally."""


class BadCalibration(BadInput):
    """Court corners a user gave do not describe a court a camera can see (fewer or
    more than four, three in a line, crossing, or seen from below the floor)."""


class SettingError(VolleyError):
    """An environment variable holds a value of the wrong type or range."""


class FFmpegError(VolleyError):
    """ffmpeg exited non-zero. Carries the exit code and the tail of its stderr."""

    def __init__(self, args: list[str], returncode: int, stderr: str):
        self.args_list = list(args)
        self.returncode = returncode
        self.stderr_tail = "\n".join(stderr.strip().splitlines()[-15:])
        tool = args[0] if args else "ffmpeg"
        super().__init__(f"{tool} exited with code {returncode}:\n{self.stderr_tail}")
