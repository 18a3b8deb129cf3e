"""The soundtrack: room (or beach) noise, a thump at each ball touch and bounce, the
referee's whistle, and the crowd; made chunk by chunk so it never sits in memory."""

from __future__ import annotations

import math

import numpy as np

RATE = 48000
SPEED_OF_SOUND = 343.0


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = len(a) + len(b) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:n]


def _shaped_noise(n: int, rng: np.random.Generator, lo: float, hi: float, tilt: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    gain = np.where((f > lo) & (f < hi), 1.0 / np.maximum(f, 1.0) ** tilt, 0.0)
    out = np.fft.irfft(spec * gain, n)
    return (out / (np.abs(out).max() + 1e-9)).astype(np.float32)


class Soundtrack:
    def __init__(self, events, indoor: bool, cam_pos, rng: np.random.Generator, crowd: bool):
        self.rng = rng
        self.bed_a = _shaped_noise(int(7.3 * RATE), rng, 40, 9000, 0.6) * (0.05 if indoor else 0.04)
        self.bed_b = _shaped_noise(int(11.9 * RATE), rng, 250, 3000, 0.2) * (0.03 if crowd else 0.012)
        if not indoor:  # wind and surf
            self.bed_b = self.bed_b + _shaped_noise(int(11.9 * RATE), rng, 20, 500, 1.0) * 0.05
        # a room response: the direct sound, then a decaying tail (a gym rings, a beach does not)
        tail = np.exp(-np.arange(int((0.45 if indoor else 0.08) * RATE)) / (0.09 * RATE if indoor else 0.01 * RATE))
        tail = rng.standard_normal(len(tail)) * tail
        tail *= math.sqrt((0.35 if indoor else 0.03) / float((tail**2).sum()))
        self.ir = tail.astype(np.float32)
        self.ir[0] = 1.0
        self.templates = {k: [self._make(k) for _ in range(4)] for k in ("hit", "floor", "catch", "net", "wall", "whistle", "cheer")}
        placed = []
        for t, kind, strength, pos in events:
            if kind not in self.templates:
                continue
            dist = math.dist(pos, cam_pos)
            gain = strength / max(1.0, dist / 6.0)
            if kind in ("whistle", "cheer"):
                gain = strength * 0.6
            start = int(round((t + dist / SPEED_OF_SOUND) * RATE))
            wave = self.templates[kind][int(rng.integers(4))]
            placed.append((start, start + len(wave), wave, gain))
        placed.sort(key=lambda e: e[0])
        self.placed = placed
        self._first = 0

    def _make(self, kind: str) -> np.ndarray:
        rng = self.rng
        if kind == "whistle":
            n = int(rng.uniform(0.3, 0.6) * RATE)
            t = np.arange(n) / RATE
            f0 = rng.uniform(2900, 3500)
            am = 0.75 + 0.25 * np.sin(2 * np.pi * rng.uniform(25, 40) * t)
            env = np.minimum(1.0, t / 0.02) * np.minimum(1.0, (t[-1] - t) / 0.05)
            wave = (np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(4 * np.pi * f0 * t)) * am * env * 0.5
            return _convolve(wave, self.ir).astype(np.float32)
        if kind == "cheer":
            n = int(rng.uniform(1.5, 3.0) * RATE)
            t = np.arange(n) / RATE
            env = np.sin(np.pi * t / t[-1]) ** 2
            return (_shaped_noise(n, rng, 300, 4000, 0.3) * env * 0.5).astype(np.float32)
        dur = {"hit": 0.06, "floor": 0.05, "catch": 0.04, "net": 0.08, "wall": 0.07}[kind]
        freq = {"hit": (170, 260), "floor": (80, 140), "catch": (200, 320), "net": (300, 600), "wall": (90, 150)}[kind]
        n = int(dur * RATE)
        t = np.arange(n) / RATE
        f = rng.uniform(*freq)
        decay = np.exp(-t / (dur / 4))
        click = np.zeros(n)
        m = int(0.002 * RATE)
        click[:m] = rng.standard_normal(m) * np.linspace(1, 0, m)
        body = np.sin(2 * np.pi * f * t) * decay
        noise = rng.standard_normal(n) * np.exp(-t / (dur / 8)) * (0.6 if kind == "net" else 0.25)
        wave = (0.6 * body + 0.5 * click + noise) * 0.8
        return _convolve(wave, self.ir).astype(np.float32)

    def chunk(self, s0: int, n: int) -> np.ndarray:
        """Samples [s0, s0 + n) of the soundtrack, mono float32."""
        idx = s0 + np.arange(n)
        out = self.bed_a[idx % len(self.bed_a)] + self.bed_b[idx % len(self.bed_b)]
        s1 = s0 + n
        while self._first < len(self.placed) and self.placed[self._first][1] <= s0:
            self._first += 1
        i = self._first
        while i < len(self.placed) and self.placed[i][0] < s1:
            a, b, wave, gain = self.placed[i]
            lo, hi = max(a, s0), min(b, s1)
            if hi > lo:
                out[lo - s0:hi - s0] += wave[lo - a:hi - a] * gain
            i += 1
        return np.clip(out, -0.95, 0.95)
