"""The one error the object store raises: whatever went wrong underneath (boto, the
network, the disk), callers see a `StoreError` naming the operation and the key."""

from __future__ import annotations

from volley.exceptions import VolleyError


class StoreError(VolleyError):
    """An object store operation failed. `code` is the S3 error code when there is one
    (`NoSuchKey`, `NoSuchUpload`, `AccessDenied`...), so callers can tell a missing upload
    from an outage without parsing the message."""

    def __init__(self, operation: str, key: str, reason: str, code: str | None = None):
        self.operation = operation
        self.key = key
        self.code = code
        super().__init__(f"store {operation} {key!r} failed: {reason}")
