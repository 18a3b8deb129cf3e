"""Writing outputs atomically: a reader (the web server, a re-run) sees the old
file or the new one, never half of one, and a failed write leaves nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


#: Temporary names start with this; only a killed run leaves one behind.
PREFIX = ".volley-"


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, rename it onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{PREFIX}{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_leftovers(out_dir: Path) -> None:
    """Delete temporary files and folders a killed run left in `out_dir` (and its clips/
    and posters/), so a re-run leaves exactly the outputs."""
    for folder in (out_dir, out_dir / "clips", out_dir / "posters"):
        for path in folder.glob(f"{PREFIX}*") if folder.is_dir() else []:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
