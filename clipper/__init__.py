"""clipper: build the web-ready outputs from the framer's rally segments.

`build_outputs` is the whole API: a faststart H.264/AAC clip and a JPEG poster
per rally, the digest (all rallies) and the best reel (the top-scored rallies
in game order). The modules behind it probe media (`clipper.media`), write one
clip or poster (`clipper.clips`), join reels (`clipper.reels`) and replace
files atomically (`clipper.files`).
"""

from clipper.build import build_outputs

__all__ = ["build_outputs"]
