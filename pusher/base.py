"""The `Store` interface both stores implement, and the small types it uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

#: progress(done_bytes, total_bytes)
ByteProgress = Callable[[int, int], None]
#: S3 numbers parts 1..10000.
MAX_PARTS = 10_000


@dataclass(frozen=True, order=True)
class Part:
    """One uploaded part of a multipart upload. `etag` is without the quotes S3 puts
    around it, so both stores and the browser's `ETag` header compare alike."""

    number: int
    etag: str
    size: int


@runtime_checkable
class Store(Protocol):
    def put_file(self, key: str, path: Path, *, content_type: str | None = None,
                 cache_control: str | None = None, public: bool = False) -> None: ...

    def download(self, key: str, path: Path, progress: ByteProgress | None = None) -> None: ...

    def size(self, key: str) -> int | None: ...

    def read_head(self, key: str, length: int = 65536) -> bytes: ...

    def url(self, key: str, *, download_name: str | None = None) -> str: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def start_upload(self, key: str, content_type: str) -> str: ...

    def part_url(self, key: str, upload_id: str, part_number: int, size: int | None = None) -> str:
        """Where the browser PUTs one part; with `size`, good for exactly that many bytes."""
        ...

    def uploaded_parts(self, key: str, upload_id: str) -> list[Part]: ...

    def complete_upload(self, key: str, upload_id: str) -> None: ...

    def abort_upload(self, key: str, upload_id: str) -> None: ...


def check_key(key: str) -> str:
    """Keys are relative, `/`-separated, without `.`/`..` or empty segments: the local
    store maps them onto the disk, and S3 would keep `a//b` and `a/b` as two objects."""
    if not isinstance(key, str) or not key or key.startswith("/") or "\\" in key or "\0" in key:
        raise ValueError(f"bad store key {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"bad store key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A prefix is a key or a key followed by `/`; never empty (that is the whole bucket)."""
    check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def check_part_number(part_number: int) -> int:
    if not isinstance(part_number, int) or not 1 <= part_number <= MAX_PARTS:
        raise ValueError(f"part number must be 1..{MAX_PARTS}, got {part_number!r}")
    return part_number


def check_contiguous(key: str, parts: list[Part]) -> None:
    """Completing with a gap would silently make a shorter, corrupt file."""
    from pusher.exceptions import StoreError

    if not parts:
        raise StoreError("complete_upload", key, "no parts were uploaded", code="NoParts")
    for expected, part in enumerate(parts, start=1):
        if part.number != expected:
            raise StoreError("complete_upload", key, f"part {expected} is missing", code="MissingPart")


def attachment(download_name: str) -> str:
    """A Content-Disposition that survives any file name (RFC 6266 / 5987)."""
    from urllib.parse import quote

    ascii_name = download_name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(download_name, safe='')}"
