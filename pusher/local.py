"""`LocalStore`: the store as files under one directory (embedded mode, no S3).

The front serves its files and takes browser upload parts itself: `url()` and `part_url()`
point at the front (`/media/<key>`, `/uploads/local/<upload_id>/<n>`) with an expiry and
an HMAC signature, which the front checks with `verify()` before `path()` or `write_part()`.
A multipart upload lives in `root/.uploads/<upload_id>/`: `meta.json` and one file per
part named `NNNNN-<md5>.part`, so parallel parts never write a shared file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from pusher.base import ByteProgress, Part, check_contiguous, check_key, check_part_number, check_prefix
from pusher.exceptions import StoreError

CHUNK = 1024 * 1024
#: S3's limit on one part; a local part above it is refused the same way.
MAX_PART_BYTES = 5 * 1024**3
UPLOADS = ".uploads"
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
PART_FILE = re.compile(r"(\d{5})-([0-9a-f]{32})\.part")


class LocalStore:
    def __init__(self, root: Path, secret: str | bytes, base_url: str = "", *, expiry: int = 6 * 3600):
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self.expiry = expiry
        raw = secret.encode() if isinstance(secret, str) else secret
        # A key of its own, derived from the shared secret: a signature made here is
        # never valid for anything else the front signs with the same secret.
        self._key = hmac.new(raw, b"volley local store urls", hashlib.sha256).digest()

    # --- signing ------------------------------------------------------------------
    def _signature(self, path: str, expires: int, download_name: str | None) -> str:
        message = f"{path}\n{expires}\n{download_name or ''}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _signed(self, path: str, download_name: str | None = None) -> str:
        """`path` is the URL path as the front sees it (unquoted, without base_url)."""
        expires = int(time.time()) + self.expiry
        query = {"expires": expires, "sig": self._signature(path, expires, download_name)}
        if download_name:
            query["dl"] = download_name
        return f"{self.base_url}{quote(path)}?{urlencode(query)}"

    def verify(self, path: str, expires: str | int, sig: str, *, download_name: str | None = None) -> bool:
        """True when `sig` signs `path` (and `download_name`, the `dl` parameter) and
        `expires` (unix seconds) has not passed. `path` is the request's unquoted path
        without any script prefix (Django: `request.path_info`)."""
        try:
            expires = int(expires)
        except (TypeError, ValueError):
            return False
        if expires < time.time() or not isinstance(sig, str):
            return False
        return hmac.compare_digest(self._signature(path, expires, download_name), sig)

    # --- objects ------------------------------------------------------------------
    def path(self, key: str) -> Path:
        """The file holding `key` (it may not exist); refuses keys that leave the root."""
        if check_key(key).split("/")[0] == UPLOADS:
            raise ValueError(f"bad store key {key!r}")
        return self.root / key

    def put_file(self, key: str, path: Path, *, content_type: str | None = None,
                 cache_control: str | None = None, public: bool = False) -> None:
        # Headers are the front's business when it serves the file (by extension).
        try:
            with open(path, "rb") as source:
                _write_atomically(self.path(key), source)
        except OSError as error:
            raise StoreError("put_file", key, str(error)) from error

    def download(self, key: str, path: Path, progress: ByteProgress | None = None) -> None:
        total = self.size(key)
        if total is None:
            raise StoreError("download", key, "no such object", code="NoSuchKey")
        try:
            with open(self.path(key), "rb") as source:
                _write_atomically(Path(path), source, lambda done: progress and progress(done, total))
        except OSError as error:
            raise StoreError("download", key, str(error)) from error

    def size(self, key: str) -> int | None:
        file = self.path(key)
        return file.stat().st_size if file.is_file() else None

    def read_head(self, key: str, length: int = 65536) -> bytes:
        try:
            with open(self.path(key), "rb") as file:
                return file.read(length)
        except OSError as error:
            raise StoreError("read_head", key, str(error), code="NoSuchKey") from error

    def url(self, key: str, *, download_name: str | None = None) -> str:
        self.path(key)
        return self._signed(f"/media/{key}", download_name)

    def delete_prefix(self, prefix: str) -> int:
        """Deletes the files whose key starts with `prefix` and aborts its uploads."""
        check_prefix(prefix)
        folder = self.root / prefix.rpartition("/")[0]
        deleted = 0
        for file in sorted(folder.rglob("*")) if folder.is_dir() else []:
            key = file.relative_to(self.root).as_posix()
            if file.is_file() and key.startswith(prefix) and not key.startswith(UPLOADS + "/"):
                file.unlink()
                deleted += 1
        _remove_empty_dirs(folder, self.root)
        for upload_id, meta in self._uploads():
            if meta.get("key", "").startswith(prefix):
                self.abort_upload(meta["key"], upload_id)
        return deleted

    # --- multipart uploads -----------------------------------------------------------
    def start_upload(self, key: str, content_type: str) -> str:
        self.path(key)
        upload_id = secrets.token_hex(16)
        folder = self.root / UPLOADS / upload_id
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(json.dumps({"key": key, "content_type": content_type}))
        return upload_id

    def part_url(self, key: str, upload_id: str, part_number: int, size: int | None = None) -> str:
        # No size in the URL: the front's part view reads at most the part's own size.
        self._upload_dir(key, upload_id, "part_url")
        return self._signed(f"/uploads/local/{upload_id}/{check_part_number(part_number)}")

    def write_part(self, upload_id: str, part_number: int, readable: BinaryIO) -> str:
        """Stores one part read from `readable` (1 MiB at a time); returns its ETag (MD5 hex,
        as S3 gives for a part). Sending the same part again replaces it."""
        folder = self._upload_dir(None, upload_id, "write_part")
        number = check_part_number(int(part_number))
        md5 = hashlib.md5(usedforsecurity=False)
        tmp = folder / f".{number:05d}.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "wb") as out:
                size = 0
                while chunk := readable.read(CHUNK):
                    size += len(chunk)
                    if size > MAX_PART_BYTES:
                        raise StoreError("write_part", upload_id, f"part {number} is over 5 GiB", code="EntityTooLarge")
                    md5.update(chunk)
                    out.write(chunk)
            final = folder / f"{number:05d}-{md5.hexdigest()}.part"
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        for older in folder.glob(f"{number:05d}-*.part"):
            if older != final:
                older.unlink(missing_ok=True)
        return md5.hexdigest()

    def uploaded_parts(self, key: str, upload_id: str) -> list[Part]:
        folder = self._upload_dir(key, upload_id, "uploaded_parts")
        parts = []
        for file in folder.iterdir():
            if match := PART_FILE.fullmatch(file.name):
                parts.append(Part(int(match[1]), match[2], file.stat().st_size))
        return sorted(parts)

    def complete_upload(self, key: str, upload_id: str) -> None:
        parts = self.uploaded_parts(key, upload_id)
        check_contiguous(key, parts)
        folder = self.root / UPLOADS / upload_id
        with _Concatenation([folder / f"{p.number:05d}-{p.etag}.part" for p in parts]) as joined:
            _write_atomically(self.path(key), joined)
        shutil.rmtree(folder, ignore_errors=True)

    def abort_upload(self, key: str, upload_id: str) -> None:
        if UPLOAD_ID.fullmatch(upload_id or ""):
            shutil.rmtree(self.root / UPLOADS / upload_id, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------
    def _upload_dir(self, key: str | None, upload_id: str, operation: str) -> Path:
        """The upload's folder; refuses an unknown id, or one started for another key."""
        folder = self.root / UPLOADS / upload_id if UPLOAD_ID.fullmatch(str(upload_id)) else None
        meta = _read_meta(folder) if folder else None
        if meta is None or (key is not None and meta.get("key") != key):
            raise StoreError(operation, key or str(upload_id), "no such upload", code="NoSuchUpload")
        return folder

    def _uploads(self):
        base = self.root / UPLOADS
        for folder in base.iterdir() if base.is_dir() else []:
            meta = _read_meta(folder)
            if meta is not None:
                yield folder.name, meta


def _read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def _write_atomically(target: Path, source: BinaryIO, progress=None) -> None:
    """Copies `source` into `target` through a temporary file beside it and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as out:
            done = 0
            while chunk := source.read(CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_empty_dirs(folder: Path, root: Path) -> None:
    if not folder.is_dir():
        return
    for sub in sorted(folder.rglob("*"), reverse=True):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


class _Concatenation:
    """The part files read one after another as one stream."""

    def __init__(self, files: list[Path]):
        self.files, self.current = list(files), None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.current:
            self.current.close()

    def read(self, size: int) -> bytes:
        while True:
            if self.current is None:
                if not self.files:
                    return b""
                self.current = open(self.files.pop(0), "rb")
            chunk = self.current.read(size)
            if chunk:
                return chunk
            self.current.close()
            self.current = None
