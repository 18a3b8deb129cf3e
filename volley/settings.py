"""Settings, only from environment variables prefixed `VOLLEY_`.

Each setting is read through a small typed helper that fails loudly (a
`SettingError` naming the variable) on a bad value, never silently falls back.
All settings and their defaults are listed in docs/settings.md.
"""

from __future__ import annotations

import os
import secrets
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


def env_retired(name: str, replacement: str) -> None:
    """A setting that was replaced: set, it stops the start with what to set instead,
    rather than being silently ignored."""
    if _raw(name) is not None:
        raise SettingError(f"{PREFIX}{name} was replaced by {PREFIX}{replacement}; set that instead")


def ffmpeg_binary() -> str:
    """The ffmpeg executable (`VOLLEY_FFMPEG`, default `ffmpeg` on PATH)."""
    return env_str("FFMPEG", "ffmpeg")


def work_dir() -> Path:
    """Node-local scratch space for rally segments (`VOLLEY_WORK_DIR`)."""
    return env_path("WORK_DIR", Path(os.environ.get("TMPDIR", "/tmp")) / "volley-work")  # node-local scratch  # nosec B108


def node_name() -> str:
    """The "node" holding a game's work files between stages (`VOLLEY_NODE_NAME`, default
    the host name). In Kubernetes it is the worker pod's name: the files live in the
    pod's emptyDir, which its four stage containers share."""
    import socket

    return env_str("NODE_NAME", socket.gethostname())


#: The embedded mode's signing key, made on first start under `VOLLEY_DATA_DIR`.
SECRET_FILE = "secret.key"  # a file name, the key is random  # nosec B105


def production() -> bool:
    """True when the service runs on production parts (a queue server or an S3 store):
    there a signing key must be given, never made up on one machine."""
    return bool(_raw("REDIS_URL") or _raw("S3_ENDPOINT"))


def secret_key(data_dir: Path) -> str:
    """`VOLLEY_SECRET_KEY`; in production a `SettingError` without it. Embedded, a random
    key kept in `data_dir/secret.key` (mode 0600), made on first use: a key in the source
    would let anyone who saw one link forge URLs for every file of that game."""
    value = _raw("SECRET_KEY")
    if value:
        return value
    if production():
        raise SettingError(f"{PREFIX}SECRET_KEY must be set in production "
                           f"({PREFIX}REDIS_URL or {PREFIX}S3_ENDPOINT is set)")
    return _embedded_secret(Path(data_dir) / SECRET_FILE)


def _embedded_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place: a second
        # process starting at the same time either wins the link or reads the full key.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:  # copied with looser rights: only its owner may read it
        path.chmod(0o600)
    value = path.read_text().strip()
    if not value:
        raise SettingError(f"{path} is empty: delete it to make a new signing key")
    return value
