"""vproc: find the ball in a game video and split the game into rallies.

- `vproc.probe`     opens a file and says what it is (or why it is not a usable video);
- `vproc.decode`    decodes it once, yielding small grey frames stamped with PTS times;
- `vproc.detector`  finds ball-like moving blobs in one frame (no I/O);
- `vproc.tracker`   links blobs into ballistic flights;
- `vproc.rallies`   turns flights into serve-to-dead rallies with stats and scores;
- `vproc.analyse`   the stage job tying these together.
"""
