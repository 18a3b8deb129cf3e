"""Settings, only from environment variables prefixed `VOLLEY_`.

Each setting is read through a small typed helper that fails loudly (a
`SettingError` naming the variable) on a bad value, never silently falls back.
All settings and their defaults are listed in docs/settings.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from volley.exceptions import SettingError

PREFIX = "VOLLEY_"


def _raw(name: str) -> str | None:
    value = os.environ.get(PREFIX + name)
    return None if value is None or value.strip() == "" else value.strip()


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingError(f"{PREFIX}{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise SettingError(f"{PREFIX}{name} must be >= {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingError(f"{PREFIX}{name} must be a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise SettingError(f"{PREFIX}{name} must be >= {minimum}, got {number}")
    return number


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingError(f"{PREFIX}{name} must be true or false, got {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks around items are dropped."""
    value = _raw(name)
    return list(default) if value is None else [item.strip() for item in value.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    value = _raw(name)
    return default if value is None else Path(value).expanduser()


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (compared case-insensitively, returned as listed)."""
    value = _raw(name)
    if value is None:
        return default
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise SettingError(f"{PREFIX}{name} must be one of {', '.join(choices)}, got {value!r}")


def ffmpeg_binary() -> str:
    """The ffmpeg executable (`VOLLEY_FFMPEG`, default `ffmpeg` on PATH)."""
    return env_str("FFMPEG", "ffmpeg")


def work_dir() -> Path:
    """Node-local scratch space for rally segments (`VOLLEY_WORK_DIR`)."""
    return env_path("WORK_DIR", Path(os.environ.get("TMPDIR", "/tmp")) / "volley-work")


def node_name() -> str:
    """The "node" holding a game's work files between stages (`VOLLEY_NODE_NAME`, default
    the host name). In Kubernetes it is the worker pod's name: the files live in the
    pod's emptyDir, which its four stage containers share."""
    import socket

    return env_str("NODE_NAME", socket.gethostname())
