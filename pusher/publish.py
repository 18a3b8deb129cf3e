"""Publishing: upload a clipper output directory (`clips/rally-NNN.mp4`,
`posters/rally-NNN.jpg`, `digest.mp4`, `best.mp4`, `rallies.json`, `track.json`) to the
store under one prefix, with the content types and cache headers browsers and the CDN need.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Callable

from pusher.base import Store

#: Media never changes under a key (a new render gets new keys), so browsers and the CDN
#: may keep it for a year without asking again.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The JSON indexes are rewritten in place when a game is processed again.
NO_CACHE = "no-cache"
TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".json": "application/json"}


def headers(relative: str) -> tuple[str, str]:
    """(content type, cache control) of one output file."""
    suffix = Path(relative).suffix.lower()
    content_type = TYPES.get(suffix) or mimetypes.guess_type(relative)[0] or "application/octet-stream"
    return content_type, NO_CACHE if suffix == ".json" else IMMUTABLE


def output_files(out_dir: Path) -> list[Path]:
    """The files to publish: media first, JSON last, so that whoever reads `rallies.json`
    from the store finds every clip it names already there. Hidden files are temporary."""
    files = [p for p in Path(out_dir).rglob("*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out_dir).parts)]
    return sorted(files, key=lambda p: (p.suffix.lower() == ".json", p.relative_to(out_dir).as_posix()))


def publish(out_dir: Path, prefix: str, store: Store,
            progress: Callable[[float], None] | None = None) -> dict[str, str]:
    """Uploads every output file to `prefix + relative path` and returns relative path →
    key. Running it again overwrites the same keys. Objects are public (CDN) when the
    store has a CDN; the store decides, so the flag is always asked for."""
    out_dir = Path(out_dir)
    prefix = prefix.rstrip("/") + "/"
    files = output_files(out_dir)
    total = sum(f.stat().st_size for f in files) or 1
    keys, done = {}, 0
    for file in files:
        relative = file.relative_to(out_dir).as_posix()
        content_type, cache_control = headers(relative)
        key = prefix + relative
        store.put_file(key, file, content_type=content_type, cache_control=cache_control, public=True)
        keys[relative] = key
        done += file.stat().st_size
        if progress:
            progress(done / total)
    if progress and not files:
        progress(1.0)
    return keys
