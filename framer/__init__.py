"""framer: cut the rally ranges of a game into frame-accurate segments.

`export_rallies` is the whole API; the modules behind it read the source
(`framer.source`, `framer.nal`), plan each cut (`framer.plan`) and run ffmpeg
(`framer.parts`).
"""

from framer.export import export_rallies

__all__ = ["export_rallies"]
