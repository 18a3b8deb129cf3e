"""Bounds on what the API reads from a request, so hostile values answer 400 instead of
reaching the database or the JSON decoder: page sizes and offsets within ranges the
database's integers hold, and JSON bodies no deeper than any real request."""

from __future__ import annotations

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser

#: The deepest JSON body the API takes; its deepest real body (court corners) is 3.
MAX_JSON_DEPTH = 16
#: The most rows one page lists, and the furthest offset (far beyond any user's games,
#: well inside a 64-bit integer).
MAX_PAGE = 500
MAX_OFFSET = 10**9


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, answering 400 to a body nested too deep (the decoder's own
    recursion limit raised RecursionError, which DRF does not catch: a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deep") from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH}")
        return data


def _depth(data) -> int:
    """How deep lists and objects nest in `data`, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:  # deep enough to refuse: no need to walk the rest
                break
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest


class BoundedPagination(LimitOffsetPagination):
    """`?limit=` 1..MAX_PAGE and `?offset=` 0..MAX_OFFSET; anything else is a 400 that says
    so (DRF passed a 20-digit limit to the database, which overflowed: a 500)."""

    max_limit = MAX_PAGE

    def get_limit(self, request):
        return _bounded(request, self.limit_query_param, 1, MAX_PAGE, self.default_limit)

    def get_offset(self, request):
        return _bounded(request, self.offset_query_param, 0, MAX_OFFSET, 0)


def _bounded(request, name: str, low: int, high: int, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    # At most a few digits: int() of thousands of digits is itself refused by Python.
    if len(text) > 12 or not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ValidationError({name: f"must be a whole number from {low} to {high}"})
    return int(text)

