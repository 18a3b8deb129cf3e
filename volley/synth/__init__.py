"""Synthetic volleyball games with known ground truth.

`render_game(path, GameSpec(...))` renders a multi-rally game (warm-up, serves,
passes, sets, attacks, digs, the ball bouncing away and being brought back to the
next server) through a pinhole camera into an H.264/AAC MP4, and returns (and
writes beside it, as `<name>.truth.json`) the `Truth`: each rally's serve contact
and first floor contact, and the in-play ball's pixel position in every frame.
`rendered(spec, folder)` renders a spec once into a cache folder.
"""

from volley.synth.render import render_game, rendered
from volley.synth.spec import GameSpec, Truth

__all__ = ["GameSpec", "Truth", "render_game", "rendered"]
