"""When each analysed frame was taken, for footage whose frame rate was raised by
repeating frames. No I/O: times in, times out.

A 25 fps camera stored at 30 fps (a web or TV re-encode, an editor's export, a phone
padding a variable frame rate) repeats about one frame in six. The detector skips the
repeats, since they show nothing new, but the frames left keep the PTS of their slots
on the 30 fps grid: up to a slot (1/30 s) away from when they were taken. A spiked
ball moves ~10 analysis pixels in that time, so its path stops looking ballistic and
the tracker cuts it up. While repeats are being seen, the frames left are taken to be
evenly spaced in time, as the camera took them: a straight line through their PTS by
their count. Footage without repeats keeps its PTS exactly, and so does footage whose
"repeats" are moments when nothing moved: the frames left are then not evenly spaced
(a still stretch leaves a gap), which the line shows by missing some PTS by more
than a slot.
"""

from __future__ import annotations

from collections import deque

import numpy as np

#: The span (s) of PTS the line is fitted over, and in which repeats count.
WINDOW = 2.0
#: Repeats within WINDOW before times are straightened: one repeat alone is as likely
#: a still moment of a clean encode as a converted frame rate.
MIN_REPEATS = 2


class Cadence:
    """Feed every frame in order: `repeated(pts)` for a frame that repeats the one
    before, `kept(pts)` for the others, which returns the frame's number; `time(n)`
    is when kept frame `n` was taken. Asking for a frame a few frames back lets the
    line see past it, so the detector (which reports two frames late) asks that way."""

    def __init__(self) -> None:
        self._kept: deque[tuple[int, float]] = deque()
        self._repeats: deque[float] = deque()
        self._count = 0
        self._last = float("-inf")

    def repeated(self, pts: float) -> None:
        self._repeats.append(pts)

    def kept(self, pts: float) -> int:
        self._kept.append((self._count, pts))
        self._count += 1
        while self._kept[0][1] < pts - WINDOW:
            self._kept.popleft()
        while self._repeats and self._repeats[0] < pts - WINDOW:
            self._repeats.popleft()
        return self._count - 1

    def time(self, n: int) -> float:
        """The time kept frame `n` (still within WINDOW of the newest) was taken."""
        first = self._kept[0][0]
        pts = self._kept[n - first][1]
        if len(self._repeats) < MIN_REPEATS or len(self._kept) < 3:
            t = pts
        else:
            numbers, times = np.array(self._kept).T
            slope, intercept = np.polyfit(numbers - n, times, 1)
            even = np.abs(times - intercept - slope * (numbers - n)).max() < slope
            t = intercept if even else pts
        t = max(float(t), self._last + 1e-4)  # always after the frame before
        self._last = t
        return t
