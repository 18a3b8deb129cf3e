"""Small named errors of the service."""

from __future__ import annotations

from volley.exceptions import BadInput, VolleyError


class WorkLost(VolleyError):
    """A stage found the files an earlier stage left on this node gone (the node or its
    scratch volume was replaced): the game starts again from analysis."""


class UploadRejected(BadInput):
    """An upload the service refuses (too big, not a video, incomplete)."""
