"""Just enough H.264 bitstream reading for a smart cut: split a packet into NAL
units (length-prefixed as in MP4, or Annex B start codes as in MPEG-TS), tell an
IDR picture from other keyframes, and read the SPS/PPS ids a source uses, so the
re-encoded head and tail can use ids that cannot clash with the copied middle."""

from __future__ import annotations

from collections.abc import Iterator

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8


def length_size(extradata: bytes | None) -> int:
    """NAL length-prefix size of an avcC record, or 0 when the stream is Annex B."""
    if extradata and extradata[0] == 1 and len(extradata) > 4:
        return (extradata[4] & 0x03) + 1
    return 0


def split(data: bytes, prefix: int) -> Iterator[bytes]:
    """The NAL units of a packet (`prefix` 0 = Annex B, else the length size)."""
    return _split_annexb(data) if prefix == 0 else _split_prefixed(data, prefix)


def _split_prefixed(data: bytes, prefix: int) -> Iterator[bytes]:
    pos = 0
    while pos + prefix <= len(data):
        size = int.from_bytes(data[pos : pos + prefix], "big")
        pos += prefix
        if size == 0:
            continue
        yield data[pos : pos + size]
        pos += size


def _split_annexb(data: bytes) -> Iterator[bytes]:
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        yield data[start:end].rstrip(b"\x00")  # a 4-byte start code leaves one zero behind


def is_idr(data: bytes, prefix: int) -> bool:
    """True when the packet holds an IDR slice: decoding can start here with no earlier state."""
    return any(nal and nal[0] & 0x1F == NAL_IDR for nal in split(data, prefix))


def parameter_set_ids(nals: list[bytes]) -> set[int]:
    """The SPS and PPS ids among `nals` (one set: x264 gives its SPS and PPS the same id)."""
    ids = set()
    for nal in nals:
        kind = nal[0] & 0x1F if nal else 0
        if kind == NAL_SPS and len(nal) > 4:
            ids.add(_first_ue(nal[4:]))  # after header, profile, constraints, level
        elif kind == NAL_PPS and len(nal) > 1:
            ids.add(_first_ue(nal[1:]))
    return ids


def extradata_nals(extradata: bytes | None) -> list[bytes]:
    """The SPS/PPS NAL units of an avcC record or an Annex B extradata blob."""
    if not extradata:
        return []
    if extradata[0] != 1:
        return list(_split_annexb(extradata))
    nals, pos = [], 5
    for mask in (0x1F, 0xFF):  # first the SPS count (5 bits), then the PPS count
        if pos >= len(extradata):
            break
        count, pos = extradata[pos] & mask, pos + 1
        for _ in range(count):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            nals.append(extradata[pos + 2 : pos + 2 + size])
            pos += 2 + size
    return nals


def _first_ue(payload: bytes) -> int:
    """Decode the unsigned Exp-Golomb number at the start of `payload`."""
    raw = payload[:8].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention
    bits = "".join(f"{byte:08b}" for byte in raw)
    zeros = len(bits) - len(bits.lstrip("0"))
    return int(bits[zeros : 2 * zeros + 1], 2) - 1
