"""Tell from a file's first bytes whether it can be a video, before anyone waits for
a multi-GB upload to finish. The full check (`vproc.probe`) runs once the file is in.
"""

from __future__ import annotations

#: Leading bytes of video containers people upload.
_VIDEO_AT_0 = (
    (b"\x1aE\xdf\xa3", "Matroska/WebM"),
    (b"FLV", "FLV"),
    (b"\x00\x00\x01\xba", "MPEG program stream"),
    (b"0&\xb2u\x8ef\xcf\x11", "ASF/WMV"),
)
#: ISO base media (MP4, MOV, 3GP): a box type at bytes 4..8.
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
#: Leading bytes of files people upload by mistake, to name them in the message.
_NOT_VIDEO = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"ID3", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"OggS", "an Ogg file"),
)
#: ftyp brands that are audio or still images, not video.
_NOT_VIDEO_BRANDS = {b"M4A ": "an M4A audio file", b"M4B ": "an audiobook", b"heic": "a HEIC image",
                     b"heix": "a HEIC image", b"mif1": "a HEIF image", b"avif": "an AVIF image"}


def not_video_reason(head: bytes) -> str | None:
    """None when `head` (the file's first bytes, 64 or more) may start a video;
    otherwise what the file is instead, for the user."""
    if not head:
        return "the file is empty"
    if head[4:8] in _MP4_BOXES:
        brand = head[8:12] if head[4:8] == b"ftyp" else b""
        return f"this is {_NOT_VIDEO_BRANDS[brand]}, not a video" if brand in _NOT_VIDEO_BRANDS else None
    if head[:4] == b"RIFF":
        return None if head[8:12] == b"AVI " else "this is a RIFF file (WAV audio?), not a video"
    if head[:1] == b"\x47" and (len(head) < 189 or head[188:189] == b"\x47"):
        return None  # MPEG transport stream (camcorders' .mts)
    for magic, _name in _VIDEO_AT_0:
        if head.startswith(magic):
            return None
    for magic, name in _NOT_VIDEO:
        if head.startswith(magic):
            return f"this is {name}, not a video"
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf1", b"\xff\xf9"):
        return "this is an audio file, not a video"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        return "this is a text file, not a video"
    return "this file is not a video format Volley knows (MP4, MOV, MKV, WebM, AVI, MTS)"
