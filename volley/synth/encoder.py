"""The encoder process. Drawing is pure Python and holds the GIL, so the H.264/AAC
encoding runs in a child interpreter (`python -m volley.synth.encoder`): the parent
draws each picture straight into a shared-memory slot and names the slot on the
child's stdin; the child converts it to YUV 4:2:0, adds the light flicker and film
grain, encodes and muxes it, and hands the slot back on its stdout."""

from __future__ import annotations

import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from multiprocessing import resource_tracker, shared_memory

import numpy as np

SLOTS = 4
#: x264 speed preset: "superfast" keeps CABAC and B-frames (real camera-like decode
#: cost) at about half the CPU of "veryfast" for the same bitrate.
PRESET = "superfast"


@dataclass
class Light:
    """Brightness over time: spells of mains flicker beating with the frame rate (a
    failing lamp), short dips, and clouds passing the sun outdoors."""

    beats: list = field(default_factory=list)  # (start, duration, depth, beat frequency)
    dips: list = field(default_factory=list)  # (start, duration, depth)
    clouds: list = field(default_factory=list)  # (start, duration, depth)

    def gain(self, t: float) -> float:
        g = 1.0
        for t0, d, depth, beat in self.beats:
            if t0 <= t <= t0 + d:
                g *= 1.0 - depth * (0.5 + 0.5 * math.sin(2 * math.pi * beat * (t - t0)))
        for t0, d, depth in self.dips:
            if t0 <= t <= t0 + d:
                g *= 1.0 - depth * (0.6 + 0.4 * math.sin(2 * math.pi * 13 * (t - t0)))
        for t0, d, depth in self.clouds:
            if t0 <= t <= t0 + d:
                g *= 1.0 - depth * math.sin(math.pi * (t - t0) / d)
        return g


@dataclass
class Job:
    """Everything the encoder process needs (picklable)."""

    path: str
    width: int  # display size of the drawn pictures
    height: int
    rotation: int
    fps: Fraction
    time_base: Fraction
    tick: int  # frame duration in time_base units
    offset_ticks: int  # PTS of frame 0
    n_frames: int
    gop: int
    crf: int
    luma_grain: float
    chroma_grain: float
    seed: int
    light: Light
    audio: bool
    start_offset: float
    events: list
    indoor: bool
    cam_pos: tuple
    crowd: bool


class EncoderProcess:
    """Parent side: slots to draw into, and `submit(slot, frame_index)`."""

    def __init__(self, job: Job):
        self.job = job
        nbytes = job.width * job.height * 3
        self.shm = shared_memory.SharedMemory(create=True, size=nbytes * SLOTS)
        self.slots = [np.ndarray((job.height, job.width, 3), np.uint8, self.shm.buf, offset=k * nbytes)
                      for k in range(SLOTS)]
        self.free = list(range(SLOTS))
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child never blocks
        self.proc = subprocess.Popen(  # our own worker, an argument list  # nosec B603
            [sys.executable, "-m", "volley.synth.encoder", self.shm.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, env=env,
        )
        data = pickle.dumps(job)
        self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
        self.proc.stdin.flush()

    def slot(self) -> int:
        """A free slot (waits for the encoder to finish one)."""
        if not self.free:
            line = self.proc.stdout.readline()
            if not line:
                self._fail()
            self.free.append(int(line))
        return self.free.pop()

    def submit(self, slot: int | None, index: int) -> None:
        """Frame `index` is in `slot` (None: the frame is dropped, only time moves on)."""
        try:
            self.proc.stdin.write(b"%d %d\n" % (-1 if slot is None else slot, index))
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._fail()

    def finish(self) -> None:
        try:
            self.proc.stdin.write(b"end\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.stdout.read()
        code = self.proc.wait()
        if code != 0:
            raise RuntimeError(f"synthetic video encoder failed ({code}):\n{self._stderr()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for s in (self.proc.stdin, self.proc.stdout, self.errors):
            try:
                s.close()
            except (OSError, ValueError):
                pass
        self.slots = []
        self.shm.close()
        self.shm.unlink()

    def _stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")[-3000:]

    def _fail(self):
        self.proc.wait()
        raise RuntimeError(f"synthetic video encoder stopped ({self.proc.returncode}):\n{self._stderr()}")


_ROTATE = {90: "ROTATE_90_COUNTERCLOCKWISE", 180: "ROTATE_180", 270: "ROTATE_90_CLOCKWISE"}


def _encode(job: Job, slots: list[np.ndarray]) -> None:
    import av
    import cv2

    from volley.synth.sound import RATE, Soundtrack

    w, h = job.width, job.height
    cw, ch = (h, w) if job.rotation in (90, 270) else (w, h)
    rng = np.random.default_rng(job.seed)
    extra = 65536
    grain = []
    for sigma, n in ((job.luma_grain, cw * ch), (job.chroma_grain, cw * ch // 2)):
        noise = rng.normal(0.0, sigma, n + extra)
        grain.append((np.clip(np.round(noise), 0, 255).astype(np.uint8), np.clip(np.round(-noise), 0, 255).astype(np.uint8)))
    container = av.open(job.path, "w", format="mp4", options={"movflags": "+faststart"})
    try:
        vs = container.add_stream("libx264", rate=job.fps)
        vs.width, vs.height, vs.pix_fmt = cw, ch, "yuv420p"
        vs.time_base = job.time_base
        vs.codec_context.time_base = job.time_base
        vs.options = {"crf": str(job.crf), "preset": PRESET, "g": str(job.gop), "keyint_min": str(min(job.gop, 25)),
                      "x264-params": "colorprim=bt470bg:transfer=bt709:colormatrix=smpte170m"}
        vs.codec_context.color_range = 1
        if job.rotation:
            vs.set_display_rotation(-job.rotation)  # clockwise turn for display = negative angle
        aus = track = None
        if job.audio:
            aus = container.add_stream("aac", rate=RATE, layout="mono")
            aus.time_base = Fraction(1, RATE)
            aus.bit_rate = 96000
            track = Soundtrack(job.events, job.indoor, job.cam_pos, np.random.default_rng(job.seed + 1), job.crowd)
        audio_offset = int(round(job.start_offset * RATE))
        audio_done = 0
        audio_total = int(round(job.n_frames / float(job.fps) * RATE))
        ny = cw * ch
        rotate = getattr(cv2, _ROTATE[job.rotation]) if job.rotation else None
        for line in sys.stdin.buffer:
            if line.startswith(b"end"):
                break
            slot, i = (int(x) for x in line.split())
            if slot >= 0:
                frame = slots[slot]
                if rotate is not None:
                    frame = cv2.rotate(frame, rotate)
                yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
                sys.stdout.buffer.write(b"%d\n" % slot)
                sys.stdout.buffer.flush()
                flat = yuv.reshape(-1)
                t = float(i / job.fps)
                g = job.light.gain(t)
                if abs(g - 1.0) > 0.002:
                    luma = flat[:ny]
                    cv2.convertScaleAbs(luma, dst=luma, alpha=g, beta=16.0 * (1.0 - g))
                for (pos, neg), part in zip(grain, (flat[:ny], flat[ny:])):
                    off = int(rng.integers(0, len(pos) - part.size))
                    cv2.add(part, pos[off:off + part.size], dst=part)
                    cv2.subtract(part, neg[off:off + part.size], dst=part)
                vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                vf.pts = job.offset_ticks + i * job.tick
                vf.time_base = job.time_base
                for pkt in vs.encode(vf):
                    container.mux(pkt)
            if aus is not None:
                last = i == job.n_frames - 1
                upto = audio_total if last else min(audio_total, int((i + 1) / float(job.fps) * RATE))
                while audio_done < upto and (upto - audio_done >= 1024 or last):
                    n = min(1024, upto - audio_done)
                    af = av.AudioFrame.from_ndarray(track.chunk(audio_done, n).reshape(1, -1), format="flt", layout="mono")
                    af.sample_rate = RATE
                    af.pts = audio_offset + audio_done
                    af.time_base = Fraction(1, RATE)
                    for pkt in aus.encode(af):
                        container.mux(pkt)
                    audio_done += n
        for pkt in vs.encode(None):
            container.mux(pkt)
        if aus is not None:
            for pkt in aus.encode(None):
                container.mux(pkt)
    finally:
        container.close()


def main() -> None:
    shm = shared_memory.SharedMemory(name=sys.argv[1])
    try:  # the parent owns (and unlinks) the segment
        resource_tracker.unregister(shm._name, "shared_memory")  # noqa: SLF001
    except Exception:  # pragma: no cover - tracker details vary between versions  # nosec B110
        pass
    size = struct.unpack("<Q", sys.stdin.buffer.read(8))[0]
    job: Job = pickle.loads(sys.stdin.buffer.read(size))  # from our parent process's pipe  # nosec B301
    nbytes = job.width * job.height * 3
    slots = [np.ndarray((job.height, job.width, 3), np.uint8, shm.buf, offset=k * nbytes) for k in range(SLOTS)]
    try:
        _encode(job, slots)
    finally:
        del slots
        shm.close()


if __name__ == "__main__":
    main()
