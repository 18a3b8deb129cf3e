"""Volley: find the rallies in a volleyball game video and cut them into clips.

This package holds what every stage shares: the time type (`volley.timecode`),
settings (`volley.settings`), documented constants (`volley.defaults`), named
errors (`volley.exceptions`), the payloads that flow between stages
(`volley.payloads`), the ffmpeg runner (`volley.ffmpeg`), progress reporting
(`volley.progress`), the one-machine pipeline (`volley.pipeline`) and the
command line (`volley.cli`). The stages themselves live in the top-level
packages `vproc`, `framer` and `clipper`.
"""

__version__ = "0.1.0"
