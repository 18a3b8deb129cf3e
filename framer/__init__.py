"""framer: cut the rally ranges of a game into frame-accurate segments.

`export_rallies` is the API; a `Cutter` lets a caller start cuts early, as soon
as a rally is known, and hand it to `export_rallies` later. The modules behind it read the source
(`framer.source`, `framer.nal`), plan each cut (`framer.plan`) and run ffmpeg
(`framer.parts`).
"""

from framer.export import Cutter, export_rallies, padded

__all__ = ["Cutter", "export_rallies", "padded"]
