"""Sizes checked before bytes are kept (issue 23): a direct upload's body refused on its
Content-Length before a byte is read (411 without one), its file cut off as soon as it
passes the limit, a full disk answered 507 with the temporary file gone, and each part
of a browser upload held to the size its declared total gives it, in both stores.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from rest_framework.exceptions import APIException

from pusher.store import StoreError
from volley import defaults

#: Errors that mean "no room": the disk is full, the user's disk quota is spent, or the
#: process may write no bigger file (RLIMIT_FSIZE).
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "The file is too large."
    default_code = "too_large"


class LengthRequired(APIException):
    status_code = 411
    default_detail = "Send the file with a Content-Length header (not chunked)."
    default_code = "length_required"


class InsufficientStorage(APIException):
    status_code = 507
    default_detail = "The server has no room for this file now; try again later."
    default_code = "no_room"


def too_large_detail() -> str:
    return f"the file is larger than {settings.MAX_DIRECT_UPLOAD_BYTES} bytes; upload it from the web page"


# --- the direct upload: POST /api/games/ --------------------------------------------------------

def declared_length(request) -> int | None:
    """The body's Content-Length, or None when it has none (chunked) or it is no number."""
    value = request.META.get("CONTENT_LENGTH", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 19 else None


def refuse_long_body(request) -> None:
    """413 for a body that says it is longer than a direct upload may be, 411 for one
    that does not say (chunked), both answered before a byte of the body is read (the
    multipart framing around the file is allowed for). Django reads no body without a
    Content-Length (its request stream is cut at CONTENT_LENGTH, 0 when absent): refusing
    it says so, where reading it would find no file. Behind ingress-nginx, which buffers
    a chunked body and forwards it with its length, the length is always there."""
    length = declared_length(request)
    if length is None:
        raise LengthRequired()
    if length > settings.MAX_DIRECT_UPLOAD_BYTES + defaults.MULTIPART_OVERHEAD_BYTES:
        raise PayloadTooLarge(too_large_detail())


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Django's handler that streams a file to a temporary file, stopped as soon as the
    request's files pass VOLLEY_MAX_DIRECT_UPLOAD_BYTES (a body's length is checked
    against the limit plus the framing allowance, so a file inside may still pass the
    limit: it is cut there, not read to its end), and answering 507 when the disk is
    full. Either way its temporary file is closed and so removed at once: a deleted
    file still held open keeps its blocks until the process ends."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_DIRECT_UPLOAD_BYTES:
            self._discard()
            if self.request is not None:
                self.request.volley_too_large = True  # the view answers 413
            raise StopUpload(connection_reset=True)  # read no more of the body
        try:
            return super().receive_data_chunk(raw_data, start)
        except OSError as error:
            self._discard()
            if error.errno in NO_ROOM:
                raise InsufficientStorage() from error
            raise

    def _discard(self) -> None:
        file = getattr(self, "file", None)
        if file is not None:
            file.close()  # a TemporaryUploadedFile deletes itself on close


def was_too_large(request) -> bool:
    return bool(getattr(request, "volley_too_large", False))


def _no_room(error: BaseException) -> bool:
    while error is not None:
        if isinstance(error, OSError) and error.errno in NO_ROOM:
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def room_or_507():
    """Turns "no room" while storing a file (a scratch copy, or the local store's disk)
    into a 507 the client can act on, instead of a 500."""
    try:
        yield
    except (OSError, StoreError) as error:
        if _no_room(error):
            raise InsufficientStorage() from error
        raise


# --- browser uploads: each part its own size -----------------------------------------------------

def part_count(total: int) -> int:
    return max(1, -(-total // settings.UPLOAD_PART_BYTES))


def part_size(total: int, number: int) -> int:
    """The size part `number` (1-based) of an upload of `total` bytes must have; 0 for
    a part number beyond the last."""
    if not 1 <= number <= part_count(total):
        return 0
    return min(settings.UPLOAD_PART_BYTES, total - (number - 1) * settings.UPLOAD_PART_BYTES)


def wrong_part_sizes(total: int, parts) -> list[str]:
    """What is wrong with the parts the store holds, against the declared total."""
    return [f"part {p.number} is {p.size} bytes, not {part_size(total, p.number)}"
            for p in parts if p.size != part_size(total, p.number)]
