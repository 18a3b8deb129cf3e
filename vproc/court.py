"""Find the volleyball court in a few frames of a game and solve the camera.

Volley runs this once per game on a handful of analysis frames (grey, 360 px high)
spread over the first minutes. It answers where the playing court lies in the
picture (its four outer corners and an image <-> floor homography in court metres)
and where the camera stands (its height above the floor and its position), or None
when it cannot find a court with confidence.

How, in short:
1. The per-pixel median of the frames removes the players, who move; the lines stay.
2. Court lines are thin ridges, brighter or darker than the floor. A ridge filter at
   eight orientations (the line must beat the floor on both sides, so the edge of a
   wall or a shadow does not count) gives oriented evidence maps for each polarity.
3. Line segments (LSD on the ridge strength) are merged into the strongest long lines.
4. Every choice of two lines for the side lines and two for a pair of lines across
   the court (end, attack or centre lines) fixes a homography. Pictures a real camera
   cannot take (principal point at the centre, square pixels) are dropped; the others
   are scored by how much ridge evidence the whole projected court model has.
   Two side lines and ONE across line also fix it, for each focal length tried (the
   far end line is often too faint to detect). Scores count ridge evidence along the
   projected lines against the floor beside them, and count against a fit any line
   where the court has none (past its corners, half way between its lines).
5. The best few are refined: ridge maxima are gathered across each projected model
   line and the camera (focal length and pose, 7 parameters) fitted to them.
6. The camera comes from the floor homography (H = K [r1 r2 t], plane calibration).
7. Indoor or beach: the indoor fit when its attack and centre lines are there.

No I/O; numpy and OpenCV only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from volley.exceptions import BadCalibration

#: Court halves (metres): indoor 9 x 18, beach 8 x 16.
INDOOR_HALF = (4.5, 9.0)
BEACH_HALF = (4.0, 8.0)
#: Lines across an indoor court (y, metres): end lines, attack lines, the centre line.
INDOOR_ACROSS = (-9.0, -3.0, 0.0, 3.0, 9.0)
LINE_WIDTH_M = 0.05
MIN_VISIBLE = 0.75  # share of the court's lines a filmed picture shows, at least
EXTENSION = (0.3, 2.5)  # metres beyond an outer line's end checked for no line
EXTENSION_WEIGHT = 1.0
BESIDE_PX = 5.0
EMPTY_WEIGHT = 0.7  # weight of the places where a court has no line  # where the floor beside a line is read
OUTER = [0, 1, 2, -1]  # model.lines() indices: side lines, then end lines (first, last across)
INNER = [3, 4, 5]  # indoor: attack, centre, attack
INNER_MIN = 0.5  # an indoor fit's inner lines must score this to be indoor
#: A court is returned only when at least this share of its projected lines (in the
#: picture) lies on a ridge that stands out from the floor beside it. Right fits on
#: generated and real views score 0.65-0.9; a test pattern, noise or a checkerboard
#: gives no fit at all, pictures of random straight lines 0.45-0.5, and wrong fits on
#: generated games often 0.4-0.6, so this also turns many wrong fits into None.
MIN_SCORE = 0.6

ORIENTATIONS = 8  # ridge filter orientations over 180 degrees
MAX_LINES = 12  # candidate lines kept per polarity
MIN_SEGMENT_PX = 12.0  # at 360 px high
SAMPLES_PER_LINE = 24  # coarse scoring samples per model line
REFINED = 6  # hypotheses refined per polarity and model
LSD_SCALE = 1.0  # no downscaling: far lines are 1 px wide
TRIPLE_LINES = 8  # candidate lines tried as two side lines and one across line
#: Camera heights (m) a court marked by hand may imply: from a seat to a gym's roof or
#: a drone. Points nearly in a line fit a camera kilometres up.
MARKED_HEIGHT = (0.3, 60.0)
#: A usual camera's focal length, in picture widths (a phone's 65-70 degree view).
TYPICAL_FOCAL = 0.78
FOCAL_STEPS = 16  # focal lengths tried for those (fields of view 20 to 130 degrees)


@dataclass(frozen=True)
class Court:
    """A found court: corners, homography and camera, all for the analysed picture."""

    corners: np.ndarray  # (4, 2) near-left, near-right, far-right, far-left (image px)
    homography: np.ndarray  # (3, 3) image px -> court metres (x across, y along, centre 0)
    camera_height_m: float
    camera_position_m: tuple[float, float, float]  # court metres, z up
    score: float  # share of the projected lines with ridge evidence, 0..1
    beach: bool = False  # which court model fitted: beach 8 x 16 or indoor 9 x 18
    focal_px: float = 0.0  # the focal length the plane calibration gives
    size: tuple[int, int] = (0, 0)  # the picture's (width, height) in pixels

    def projection(self) -> np.ndarray:
        """The camera as a 3 x 4 matrix from court metres (x, y, z up) to picture
        pixels (homogeneous), from the plane calibration of the floor homography."""
        pose = _pose(np.linalg.inv(self.homography), self.size)
        k = np.array([[pose.focal, 0, self.size[0] / 2], [0, pose.focal, self.size[1] / 2], [0, 0, 1.0]])
        return k @ np.c_[pose.rotation, -pose.rotation @ pose.position]

    def to_court(self, xy) -> np.ndarray:
        """Image pixels (..., 2) -> court metres (..., 2) on the floor."""
        return _apply(self.homography, xy)

    def to_image(self, xy) -> np.ndarray:
        """Court metres (..., 2) on the floor -> image pixels (..., 2)."""
        return _apply(np.linalg.inv(self.homography), xy)


def _apply(h: np.ndarray, xy) -> np.ndarray:
    pts = np.asarray(xy, dtype=np.float64)
    flat = pts.reshape(-1, 2)
    out = np.c_[flat, np.ones(len(flat))] @ h.T
    return (out[:, :2] / out[:, 2:3]).reshape(pts.shape)


# --- the model --------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    half_w: float
    half_l: float
    across: tuple[float, ...]  # y of every line across the court
    beach: bool

    def lines(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every court line as (start, end) in metres: side lines first."""
        w, l = self.half_w, self.half_l
        out = [(np.array([sx * w, -l]), np.array([sx * w, l])) for sx in (-1, 1)]
        out += [(np.array([-w, y]), np.array([w, y])) for y in self.across]
        return out

    def empty(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Where a court has no line: half way between its lines across, and along its
        middle. A fit that assigns the picture's lines to the wrong model lines
        (the centre line taken for an attack line, the net's top for the far end)
        finds a line there."""
        w, l = self.half_w, self.half_l
        ys = sorted(self.across)
        mids = [0.5 * (a + b) for a, b in zip(ys, ys[1:])]
        out = [(np.array([-w, y]), np.array([w, y])) for y in mids]
        return out + [(np.array([0.0, -l]), np.array([0.0, l]))]

    def pairs(self) -> list[tuple[float, float]]:
        """Pairs of across lines a pair of image lines may be, one per symmetry class
        (the court looks the same turned round, so (a, b) and (-a, -b) are one)."""
        seen, out = set(), []
        for a, b in itertools.permutations(self.across, 2):
            key = min((a, b), (-a, -b))
            if key not in seen:
                seen.add(key)
                out.append((a, b))
        return out


INDOOR = _Model(*INDOOR_HALF, INDOOR_ACROSS, beach=False)
BEACH = _Model(*BEACH_HALF, (-BEACH_HALF[1], BEACH_HALF[1]), beach=True)


# --- evidence ---------------------------------------------------------------------


@dataclass
class _Evidence:
    """Oriented ridge maps of one polarity: `maps[k]` answers "is there a thin line
    whose normal points at angle k * pi / ORIENTATIONS here", in grey levels."""

    maps: np.ndarray  # (ORIENTATIONS, h, w) float32, exact
    loose: np.ndarray  # the same, max-filtered: tolerant to a couple of pixels
    strength: np.ndarray  # (h, w) max over orientations
    scale: float  # grey levels that count as full evidence
    tight: np.ndarray | None = None  # the maps max-filtered 3x3, made when first needed


def _median(frames: list[np.ndarray]) -> np.ndarray | None:
    """The per-pixel median: players move, the court stays."""
    good = [f for f in frames if isinstance(f, np.ndarray) and f.ndim == 2 and f.size]
    if not good:
        return None
    shape = good[0].shape
    good = [f for f in good if f.shape == shape]
    if min(shape) < 32:
        return None
    stack = np.stack([f.astype(np.float32, copy=False) for f in good])
    med = np.median(stack, axis=0) if len(good) > 2 else stack.mean(axis=0)
    # a slight blur: the decoder's 360p luma is noisy and lines are 1-3 px wide
    return cv2.GaussianBlur(med.astype(np.float32), (0, 0), 0.7)


def _shift_kernel(dx: float, dy: float) -> np.ndarray:
    """A filter2D kernel reading the image at (x + dx, y + dy), bilinear."""
    r = int(math.ceil(max(abs(dx), abs(dy)))) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    x0, y0 = math.floor(dx), math.floor(dy)
    fx, fy = dx - x0, dy - y0
    for ox, oy, wgt in ((x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                        (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)):
        k[r + oy, r + ox] += wgt
    return k


def _evidence(img: np.ndarray) -> _Evidence:
    """Oriented ridge maps: a line pixel must be brighter than the floor on BOTH sides
    (min of the two differences), at two widths (thin far lines, wider near ones)."""
    maps = []
    for k in range(ORIENTATIONS):
        a = k * math.pi / ORIENTATIONS
        nx, ny = math.cos(a), math.sin(a)
        best = None
        for d in (1.6, 3.2):
            plus = cv2.filter2D(img, -1, _shift_kernel(d * nx, d * ny), borderType=cv2.BORDER_REPLICATE)
            minus = cv2.filter2D(img, -1, _shift_kernel(-d * nx, -d * ny), borderType=cv2.BORDER_REPLICATE)
            r = np.minimum(img - plus, img - minus)
            best = r if best is None else np.maximum(best, r)
        maps.append(best)
    maps = np.stack(maps)
    strength = np.maximum(maps.max(axis=0), 0)
    kernel = np.ones((5, 5), np.uint8)
    loose = np.stack([cv2.dilate(m, kernel) for m in maps])
    # what counts as a full line: well above the ridge noise of the picture
    noise = float(np.median(strength)) + 1e-3
    scale = max(4.0, 4.0 * noise)
    return _Evidence(maps, loose, strength, scale)


def _sample(maps: np.ndarray, uv: np.ndarray, normal_angle: np.ndarray) -> np.ndarray:
    """Evidence at pixel positions uv (..., 2) for lines whose normal has the given
    angle; points outside the picture give NaN."""
    n, h, w = maps.shape
    x = np.rint(uv[..., 0]).astype(np.int64)
    y = np.rint(uv[..., 1]).astype(np.int64)
    inside = (x >= 2) & (x < w - 2) & (y >= 2) & (y < h - 2)
    k = np.rint(np.mod(normal_angle, math.pi) / (math.pi / n)).astype(np.int64) % n
    out = np.full(uv.shape[:-1], np.nan, np.float32)
    out[inside] = maps[k[inside], y[inside], x[inside]]
    return out


# --- candidate lines --------------------------------------------------------------


@dataclass
class _Line:
    point: np.ndarray  # a point on it (px)
    direction: np.ndarray  # unit
    support: float  # total segment length (px)
    extent: tuple[float, float] = (0.0, 0.0)  # along `direction` from `point`, where segments are

    @property
    def homogeneous(self) -> np.ndarray:
        n = np.array([-self.direction[1], self.direction[0]])
        return np.array([n[0], n[1], -float(n @ self.point)])


def _segments(ev: _Evidence) -> np.ndarray:
    """LSD segments (N, 4) on the ridge strength image."""
    top = max(float(np.percentile(ev.strength, 99.5)), 1.0)
    img = np.clip(ev.strength * (255.0 / top), 0, 255).astype(np.uint8)
    lsd = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD, LSD_SCALE)
    found = lsd.detect(img)[0]
    if found is None:
        return np.zeros((0, 4))
    seg = found.reshape(-1, 4).astype(np.float64)
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    min_len = MIN_SEGMENT_PX * img.shape[0] / 360.0
    return seg[length >= min_len]


def _merge(seg: np.ndarray, limit: int) -> list[_Line]:
    """Collinear segments joined into lines (a line is broken by players, the net,
    both edges of a ridge give a segment each), the longest `limit` kept."""
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    clusters: list[list[int]] = []
    lines: list[_Line] = []
    for i in np.argsort(-length):
        p, q = seg[i, :2], seg[i, 2:]
        d = (q - p) / length[i]
        for c, line in zip(clusters, lines):
            if abs(d @ line.direction) < math.cos(math.radians(3.0)):
                continue
            n = np.array([-line.direction[1], line.direction[0]])
            if max(abs(n @ (p - line.point)), abs(n @ (q - line.point))) < 3.5:
                c.append(i)
                lines[clusters.index(c)] = _fit(seg[c], length[c])
                break
        else:
            clusters.append([i])
            lines.append(_fit(seg[[i]], length[[i]]))
    return _diverse(sorted(lines, key=lambda ln: -ln.support), limit)


def _diverse(lines: list[_Line], limit: int) -> list[_Line]:
    """The longest lines, half of them whatever their direction and the rest taken in
    turn from each direction (15 degree bins): floor texture (wood grain, raked sand)
    gives many long streaks one way, which must not crowd out the lines across them."""
    chosen = lines[: limit // 2]
    bins: dict[int, list[_Line]] = {}
    for ln in lines[limit // 2:]:
        angle = math.degrees(math.atan2(ln.direction[1], ln.direction[0])) % 180.0
        bins.setdefault(int(angle // 15), []).append(ln)
    queues = sorted(bins.values(), key=lambda q: -q[0].support)
    rank = 0
    while len(chosen) < limit and any(rank < len(q) for q in queues):
        for q in queues:
            if rank < len(q) and len(chosen) < limit:
                chosen.append(q[rank])
        rank += 1
    return chosen


def _fit(seg: np.ndarray, length: np.ndarray) -> _Line:
    """Total least squares line through segments, each weighted by its length."""
    pts = np.concatenate([seg[:, :2], seg[:, 2:], 0.5 * (seg[:, :2] + seg[:, 2:])])
    wts = np.tile(length, 3)
    c = (pts * wts[:, None]).sum(0) / wts.sum()
    cov = ((pts - c) * wts[:, None]).T @ (pts - c)
    vals, vecs = np.linalg.eigh(cov)
    along = (pts - c) @ vecs[:, 1]
    return _Line(c, vecs[:, 1], float(length.sum()), (float(along.min()), float(along.max())))


def _line_contrast(ev: _Evidence, lines: list[_Line]) -> float:
    """The ridge strength of the picture's strongest long lines: what a court line
    here looks like, so that evidence is measured against it, not in grey levels."""
    found = []
    for ln in lines[:6]:
        t = np.linspace(ln.extent[0], ln.extent[1], 40)
        uv = ln.point + t[:, None] * ln.direction
        ang = np.full(len(t), math.atan2(ln.direction[0], -ln.direction[1]))
        val = _sample(_tight(ev), uv, ang)
        if np.isfinite(val).any():
            found.append(float(np.nanmedian(val)))
    return max(ev.scale, float(np.median(found))) if found else ev.scale


# --- hypotheses -------------------------------------------------------------------


def _homographies(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Batched 4-point homographies (N, 3, 3) mapping src (N, 4, 2) to dst (N, 4, 2)."""
    n = len(src)
    a = np.zeros((n, 8, 8))
    b = np.zeros((n, 8))
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    a[:, 0::2, 0], a[:, 0::2, 1], a[:, 0::2, 2] = x, y, 1
    a[:, 0::2, 6], a[:, 0::2, 7] = -x * u, -y * u
    a[:, 1::2, 3], a[:, 1::2, 4], a[:, 1::2, 5] = x, y, 1
    a[:, 1::2, 6], a[:, 1::2, 7] = -x * v, -y * v
    b[:, 0::2], b[:, 1::2] = u, v
    ok = np.abs(np.linalg.det(a)) > 1e-12
    h = np.full((n, 9), np.nan)
    h[ok, :8] = np.linalg.solve(a[ok], b[ok][..., None])[..., 0]
    h[ok, 8] = 1.0
    return h.reshape(n, 3, 3)


def _hypotheses(lines: list[_Line], model: _Model) -> tuple[np.ndarray, np.ndarray]:
    """Court -> image homographies for every assignment of two image lines to the side
    lines and two others to a pair of across lines, and the quads they come from."""
    if len(lines) < 4:
        return np.zeros((0, 3, 3)), np.zeros((0, 4, 2))
    hom = np.array([ln.homogeneous for ln in lines])
    meet = np.cross(hom[:, None, :], hom[None, :, :])  # (K, K, 3) intersections
    quads = []
    w = model.half_w
    pairs = model.pairs()
    for i, j in itertools.combinations(range(len(lines)), 2):
        for k, l in itertools.permutations(range(len(lines)), 2):
            if len({i, j, k, l}) < 4:
                continue
            quads.append([meet[i, k], meet[j, k], meet[j, l], meet[i, l]])
    if not quads:
        return np.zeros((0, 3, 3)), np.zeros((0, 4, 2))
    q = np.array(quads)  # (N, 4, 3)
    good = np.abs(q[..., 2]).min(axis=1) > 1e-9
    q = q[good]
    img = q[..., :2] / q[..., 2:3]
    img = img[_convex(img)]
    if not len(img):
        return np.zeros((0, 3, 3)), np.zeros((0, 4, 2))
    srcs = np.array([[[-w, a], [w, a], [w, b], [-w, b]] for a, b in pairs])  # (P, 4, 2)
    n, p = len(img), len(srcs)
    src = np.broadcast_to(srcs[None], (n, p, 4, 2)).reshape(-1, 4, 2)
    dst = np.broadcast_to(img[:, None], (n, p, 4, 2)).reshape(-1, 4, 2)
    h = _homographies(src, dst)
    keep = np.isfinite(h).all(axis=(1, 2))
    return h[keep], dst[keep]


def _triples(lines: list[_Line], model: _Model, size: tuple[int, int]) -> np.ndarray:
    """Court -> image homographies from two side lines and ONE line across, for a
    camera with its principal point at the centre, over a range of focal lengths: a
    far end line often hides in the sand or behind players, a near one leaves the
    picture. For a focal length f, the across vanishing point is where the across line
    meets the polar of the side lines' vanishing point (the directions are at right
    angles); the court's width then fixes the distance."""
    top = lines[:TRIPLE_LINES]
    if len(top) < 3:
        return np.zeros((0, 3, 3))
    cx, cy = size[0] / 2, size[1] / 2
    shift = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1.0]])
    hom = np.array([ln.homogeneous for ln in top]) @ shift  # lines in centred coordinates
    combos = [(i, j, k) for i, j in itertools.combinations(range(len(top)), 2)
              for k in range(len(top)) if k not in (i, j)]
    ijk = np.array(combos)
    fs = (size[0] / 2) / np.tan(np.radians(np.geomspace(20.0, 130.0, FOCAL_STEPS)) / 2)
    across = sorted({abs(y) for y in model.across})
    li, lj, lk = hom[ijk[:, 0]], hom[ijk[:, 1]], hom[ijk[:, 2]]
    out = []
    w = model.half_w
    for f in fs:
        kinv = np.diag([1 / f, 1 / f, 1.0])
        v1 = np.cross(li, lj)
        v2 = np.cross(lk, v1 * np.array([1 / f**2, 1 / f**2, 1.0]))
        d1 = _unit(v1 @ kinv)
        d2 = _unit(v2 @ kinv)
        q1 = _front(np.cross(lk, li) @ kinv)
        q2 = _front(np.cross(lk, lj) @ kinv)
        # lambda2 q2 - lambda1 q1 = 2 w d1: the two corners on the across line
        a = np.stack([-q1, q2], axis=2)  # (N, 3, 2)
        ata = np.einsum("nki,nkj->nij", a, a) + 1e-12 * np.eye(2)
        lam = np.linalg.solve(ata, np.einsum("nki,nk->ni", a, 2 * w * d1)[..., None])[..., 0]
        flip = lam.sum(axis=1) < 0
        lam[flip] *= -1
        r1 = np.where(flip[:, None], -d1, d1)
        good = (lam > 0).all(axis=1) & np.isfinite(lam).all(axis=1)
        k = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])
        for y in across:
            for sign in (1.0, -1.0):
                r2 = sign * d2
                t = lam[:, :1] * q1 + w * r1 - (-y) * r2  # the across line is y = -|y|
                hs = np.einsum("ij,njk->nik", k, np.stack([r1, r2, t], axis=2))
                out.append(hs[good])
    h = np.concatenate(out) if out else np.zeros((0, 3, 3))
    return h[np.isfinite(h).all(axis=(1, 2))]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-30)


def _front(v: np.ndarray) -> np.ndarray:
    """Rays through homogeneous points, pointing ahead of the camera (z > 0)."""
    return np.where(v[:, 2:3] < 0, -v, v)


def _convex(quads: np.ndarray) -> np.ndarray:
    """Which quads (N, 4, 2) are convex and not tiny or absurdly huge."""
    e = np.roll(quads, -1, axis=1) - quads
    cross = e[:, :, 0] * np.roll(e, -1, axis=1)[:, :, 1] - e[:, :, 1] * np.roll(e, -1, axis=1)[:, :, 0]
    same = (cross > 0).all(axis=1) | (cross < 0).all(axis=1)
    x, y = quads[..., 0], quads[..., 1]
    area = 0.5 * np.abs((x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1))
    span = np.abs(quads).max(axis=(1, 2))
    return same & (area > 50.0) & (span < 1e5)


# --- the camera -------------------------------------------------------------------


@dataclass(frozen=True)
class _Pose:
    focal: float
    rotation: np.ndarray  # court -> camera: x_cam = rotation @ x + t
    position: np.ndarray  # court metres
    skew: float  # how far the homography is from a real camera's (0 = exactly)


def _focal_batch(h: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Focal lengths (px) of court -> image homographies (N, 3, 3) for a camera with its
    principal point at the picture's centre and square pixels, and how inconsistent
    each is: |cos| of the angle between the recovered r1 and r2 plus their log length
    ratio (0 for a homography a real camera gives)."""
    w, hgt = size
    c = np.array([[1, 0, -w / 2], [0, 1, -hgt / 2], [0, 0, 1.0]])
    p = c @ h
    h1, h2 = p[:, :, 0], p[:, :, 1]
    a1 = h1[:, 0] * h2[:, 0] + h1[:, 1] * h2[:, 1]
    b1 = h1[:, 2] * h2[:, 2]
    a2 = h1[:, 0] ** 2 + h1[:, 1] ** 2 - h2[:, 0] ** 2 - h2[:, 1] ** 2
    b2 = h1[:, 2] ** 2 - h2[:, 2] ** 2
    inv_f2 = -(a1 * b1 + a2 * b2) / np.maximum(a1 * a1 + a2 * a2, 1e-30)
    f = 1.0 / np.sqrt(np.maximum(inv_f2, 1e-12))
    s = np.stack([1 / f, 1 / f, np.ones_like(f)], axis=1)
    m1, m2 = h1 * s, h2 * s
    n1, n2 = np.linalg.norm(m1, axis=1), np.linalg.norm(m2, axis=1)
    cos = np.abs((m1 * m2).sum(axis=1)) / np.maximum(n1 * n2, 1e-30)
    bad = cos + np.abs(np.log(np.maximum(n1, 1e-30) / np.maximum(n2, 1e-30)))
    bad[inv_f2 <= 0] = np.inf
    return f, bad


def _heights(h: np.ndarray, f: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Camera heights (m) of court -> image homographies (N, 3, 3) with focal lengths f;
    negative for a mirrored fit (the camera would look up at the floor)."""
    w, hgt = size
    c = np.array([[1, 0, -w / 2], [0, 1, -hgt / 2], [0, 0, 1.0]])
    m = (c @ h) * np.stack([1 / f, 1 / f, np.ones_like(f)], axis=1)[:, :, None]
    lam = 2.0 / (np.linalg.norm(m[:, :, 0], axis=1) + np.linalg.norm(m[:, :, 1], axis=1))
    lam = np.where(m[:, 2, 2] * lam < 0, -lam, lam)
    r1, r2, t = m[:, :, 0] * lam[:, None], m[:, :, 1] * lam[:, None], m[:, :, 2] * lam[:, None]
    return -(np.cross(r1, r2) * t).sum(axis=1)


def _pose(h: np.ndarray, size: tuple[int, int]) -> _Pose:
    """Plane calibration: H = K [r1 r2 t] with K from the focal length found."""
    f, bad = _focal_batch(h[None], size)
    f, bad = float(f[0]), float(bad[0])
    k = np.array([[f, 0, size[0] / 2], [0, f, size[1] / 2], [0, 0, 1.0]])
    m = np.linalg.solve(k, h)
    lam = 2.0 / (np.linalg.norm(m[:, 0]) + np.linalg.norm(m[:, 1]))
    if m[2, 2] * lam < 0:  # the court centre must lie in front of the camera
        lam = -lam
    r1, r2, t = m[:, 0] * lam, m[:, 1] * lam, m[:, 2] * lam
    u, _, vt = np.linalg.svd(np.c_[r1, r2, np.cross(r1, r2)])
    rot = u @ vt
    return _Pose(f, rot, -rot.T @ t, bad)


# --- scoring ----------------------------------------------------------------------


def _model_samples(model: _Model, per_line: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points (L, S, 2) along each model line, each line's direction (L, 2) and
    a weight per line: +1 for a court line, negative for the stretch just beyond
    each outer line's ends, where no line should be (the court's lines stop at its
    corners; a wrong fit that slides along a line runs past them)."""
    pts, dirs, wts = [], [], []
    t = (np.arange(per_line) + 0.5) / per_line
    for a, b in model.lines():
        d = (b - a) / np.linalg.norm(b - a)
        pts.append(a + (b - a) * t[:, None])
        dirs.append(d)
        wts.append(1.0)
    for a, b in model.lines()[:2] + [ln for ln in model.lines()[2:] if abs(ln[0][1]) == model.half_l]:
        d = (b - a) / np.linalg.norm(b - a)
        for end, sign in ((a, -1.0), (b, 1.0)):
            pts.append(end + sign * d * (EXTENSION[0] + (EXTENSION[1] - EXTENSION[0]) * t[:, None]))
            dirs.append(d)
            wts.append(-EXTENSION_WEIGHT)
    for a, b in model.empty():
        d = (b - a) / np.linalg.norm(b - a)
        pts.append(a + (b - a) * t[:, None])
        dirs.append(d)
        wts.append(-EMPTY_WEIGHT)
    return np.array(pts), np.array(dirs), np.array(wts)


def _project(h: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Court points (..., 2) through homographies (N, 3, 3): image px (N, ..., 2) and w."""
    flat = pts.reshape(-1, 2)
    hp = np.matmul(h, np.c_[flat, np.ones(len(flat))].T).transpose(0, 2, 1)  # (N, P, 3)
    w = hp[..., 2]
    safe = np.where(np.abs(w) > 1e-12, w, 1e-12)
    uv = hp[..., :2] / safe[..., None]
    return uv.reshape(len(h), *pts.shape[:-1], 2), w.reshape(len(h), *pts.shape[:-1])


def _scores(h: np.ndarray, model: _Model, maps: np.ndarray, scale: float, per_line: int,
            lines: list[int] | None = None) -> np.ndarray:
    """How well each projected court's lines sit on ridges, about -0.5..1. A sample
    counts from -0.5 (no line: the ridge filter is negative on a plain floor) to 1 (a
    ridge as strong as the picture's best lines, less for a line thinner than two
    pixels, whose contrast the picture blurs away). The court fills most of a picture
    people film: the mean is over at least MIN_VISIBLE of the samples."""
    pts, dirs, wts = _model_samples(model, per_line)
    if lines is not None:  # these model lines only, no extensions
        n_lines = len(model.lines())
        keep = [i % n_lines for i in lines]
        pts, dirs, wts = pts[keep], dirs[keep], wts[keep]
    uv, w = _project(h, pts)
    ahead, _ = _project(h, pts + 0.05 * dirs[:, None, :])
    side, _ = _project(h, pts + LINE_WIDTH_M * dirs[:, None, ::-1] * np.array([1.0, -1.0]))
    d = ahead - uv
    normal = np.arctan2(d[..., 0], -d[..., 1])  # the normal of the projected line
    unit = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
    width = np.abs(unit[..., 0] * (side - uv)[..., 1] - unit[..., 1] * (side - uv)[..., 0])
    val = _sample(maps, uv, normal) - _beside(maps, uv, normal, unit)
    val[np.sign(w) != np.sign(w[:, :1, :1])] = np.nan
    inside = np.isfinite(val)
    expect = scale * np.clip(width / 2.0, 0.35, 1.0)
    ev = np.where(inside, np.clip(val / expect, -0.5, 1.0), 0.0)
    positive = wts > 0
    n_in = inside[:, positive].sum(axis=(1, 2))
    total = positive.sum() * per_line
    gain = (ev * wts[None, :, None]).sum(axis=(1, 2))
    return gain / np.maximum(n_in, MIN_VISIBLE * total)


def _beside(maps: np.ndarray, uv: np.ndarray, normal: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """The ridge response a few pixels to either side of a projected line, parallel to
    it: on a textured floor (wood grain, sand) every place is a little ridge, and a
    line counts only for standing out from its surroundings."""
    off = BESIDE_PX * np.stack([-unit[..., 1], unit[..., 0]], axis=-1)
    a = _sample(maps, uv + off, normal)
    b = _sample(maps, uv - off, normal)
    return np.maximum(np.fmax(a, b), 0.0)


def _fit_share(h: np.ndarray, model: _Model, maps: np.ndarray, scale: float) -> float:
    """The confidence reported: the share of the court's line samples in the picture
    that lie on a ridge at least a third as strong as expected."""
    pts, dirs, wts = _model_samples(model, 60)
    pts, dirs = pts[wts > 0], dirs[wts > 0]
    uv, w = _project(h[None], pts)
    ahead, _ = _project(h[None], pts + 0.05 * dirs[:, None, :])
    d = ahead - uv
    unit = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
    normal = np.arctan2(d[..., 0], -d[..., 1])
    val = _sample(maps, uv, normal) - _beside(maps, uv, normal, unit)
    val[np.sign(w) != np.sign(w[:, :1, :1])] = np.nan
    inside = np.isfinite(val)
    hits = (np.where(inside, val, 0) > scale / 3).sum()
    return float(hits / max(inside.sum(), MIN_VISIBLE * inside.size))


def _plausible(h: np.ndarray, model: _Model, size: tuple[int, int]) -> np.ndarray:
    """Which court -> image homographies a real camera filming the court could give:
    the court in front of it and not tiny, its centre in the picture, a field of view
    and a height people use, a focal length consistent with square pixels."""
    w, hgt = size
    corners = np.array([[-model.half_w, -model.half_l], [model.half_w, -model.half_l],
                        [model.half_w, model.half_l], [-model.half_w, model.half_l]])
    uv, wc = _project(h, corners)
    ahead = (np.sign(wc) == np.sign(wc[:, :1])).all(axis=1)
    x, y = uv[..., 0], uv[..., 1]
    area = 0.5 * np.abs((x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1))
    centre, _ = _project(h, np.zeros((1, 2)))
    cx, cy = centre[:, 0, 0], centre[:, 0, 1]
    framed = (cx > -0.1 * w) & (cx < 1.1 * w) & (cy > -0.1 * hgt) & (cy < 1.1 * hgt)
    f, bad = _focal_batch(h, size)
    hfov = 2 * np.degrees(np.arctan(w / 2 / np.maximum(f, 1e-6)))
    height = np.abs(_heights(h, f, size))
    # the far corners, at least, are in the picture (or nearly: a tight zoom cuts them)
    near_frame = (x > -0.2 * w) & (x < 1.2 * w) & (y > -0.2 * hgt) & (y < 1.2 * hgt)
    framed &= near_frame.sum(axis=1) >= 2
    return (ahead & framed & (area > 0.02 * w * hgt) & (bad < 0.25) & (hfov > 15) & (hfov < 140)
            & (height > 0.4) & (height < 40))


# --- refinement -------------------------------------------------------------------


def _camera_h(params: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Court -> image homography of a camera (log focal, Rodrigues rotation, translation)
    whose principal point is the picture's centre: H = K [r1 r2 t]."""
    f = math.exp(params[0])
    rot, _ = cv2.Rodrigues(params[1:4].reshape(3, 1))
    k = np.array([[f, 0, size[0] / 2], [0, f, size[1] / 2], [0, 0, 1.0]])
    return k @ np.c_[rot[:, 0], rot[:, 1], params[4:7]]


def _camera_params(h: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    pose = _pose(h, size)
    rvec, _ = cv2.Rodrigues(pose.rotation)
    t = -pose.rotation @ pose.position
    return np.r_[math.log(pose.focal), rvec.ravel(), t]


def _refine(h: np.ndarray, model: _Model, ev: _Evidence, size: tuple[int, int]) -> np.ndarray:
    """Snap each projected model line to the ridge maxima near it and fit the camera
    (7 parameters: focal length and pose) to those points by robust Gauss-Newton;
    three rounds with a shrinking search radius. Works with whatever lines are seen
    (a far end line lost in the sand still gets placed by the camera model)."""
    params = _camera_params(h, size)
    if not np.isfinite(params).all():
        return h
    lines_c = np.array([np.cross(np.r_[a, 1.0], np.r_[b, 1.0]) for a, b in model.lines()])
    for radius in (6.0, 3.5, 2.0):
        pts, idx = _snap(_camera_h(params, size), model, ev, radius)
        if len(pts) < 12 or len(set(idx.tolist())) < 3:
            break
        params = _gauss_newton(params, pts, lines_c[idx], size)
    out = _camera_h(params, size)
    return out if np.isfinite(out).all() else h


def _residuals(params: np.ndarray, pts: np.ndarray, lines_c: np.ndarray, size) -> np.ndarray:
    """Signed pixel distances of snapped points to their projected model lines."""
    h = _camera_h(params, size)
    try:
        li = lines_c @ np.linalg.inv(h)  # a line maps with H^-T: rows l^T H^-1
    except np.linalg.LinAlgError:
        return np.full(len(pts), 1e3)
    return (li[:, 0] * pts[:, 0] + li[:, 1] * pts[:, 1] + li[:, 2]) / np.maximum(np.hypot(li[:, 0], li[:, 1]), 1e-12)


def _gauss_newton(params, pts, lines_c, size, rounds: int = 6):
    """Robust (Huber, 1.5 px) Gauss-Newton with a numeric Jacobian and damping."""
    step = np.array([1e-3] + [1e-4] * 3 + [1e-3] * 3)
    for _ in range(rounds):
        r = _residuals(params, pts, lines_c, size)
        wts = np.minimum(1.0, 1.5 / np.maximum(np.abs(r), 1e-9))
        jac = np.empty((len(r), 7))
        for j in range(7):
            d = np.zeros(7)
            d[j] = step[j]
            jac[:, j] = (_residuals(params + d, pts, lines_c, size) - r) / step[j]
        a = jac.T @ (jac * wts[:, None])
        g = jac.T @ (r * wts)
        a += 1e-3 * np.diag(np.diag(a)) + 1e-9 * np.eye(7)
        delta = np.linalg.solve(a, -g)
        trial = params + delta
        if np.sum(wts * _residuals(trial, pts, lines_c, size) ** 2) < np.sum(wts * r * r):
            params = trial
        else:
            break
    return params


def _snap(h: np.ndarray, model: _Model, ev: _Evidence, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge maxima within `radius` px across each projected model line: points (N, 2)
    and the index of the model line each belongs to."""
    pts, idx = [], []
    offsets = np.arange(-radius, radius + 0.01, 0.5)
    for m, (a, b) in enumerate(model.lines()):
        t = (np.arange(60) + 0.5) / 60
        uv, w = _project(h[None], a + (b - a) * t[:, None])
        uv, w = uv[0], w[0]
        d = np.gradient(uv, axis=0)
        n = np.stack([-d[:, 1], d[:, 0]], axis=1)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        cand = uv[:, None, :] + offsets[None, :, None] * n[:, None, :]
        ang = np.arctan2(n[:, 1], n[:, 0])
        val = _sample(ev.maps, cand, np.broadcast_to(ang[:, None], cand.shape[:2]))
        val = np.where(np.isfinite(val), val, -np.inf)
        best = val.argmax(axis=1)
        peak = val[np.arange(len(val)), best]
        ok = (peak > 0.5 * ev.scale) & (np.sign(w) == np.sign(np.median(w)))
        if ok.sum() < 4:
            continue
        pts.append(cand[np.arange(len(val)), best][ok])
        idx += [m] * int(ok.sum())
    if not pts:
        return np.zeros((0, 2)), np.zeros(0, int)
    return np.concatenate(pts), np.array(idx)


# --- the search -------------------------------------------------------------------


def _search(ev: _Evidence, lines: list[_Line], model: _Model, size: tuple[int, int]):
    """The best refined court -> image homography for one polarity and model, with
    its score, or None."""
    h, _ = _hypotheses(lines, model)
    h = np.concatenate([h, _triples(lines, model, size)])
    if not len(h):
        return None
    h = h[_plausible(h, model, size)]
    if not len(h):
        return None
    coarse = _scores(h, model, ev.loose, ev.scale, SAMPLES_PER_LINE)
    order = np.argsort(-coarse)
    best = None
    tried: list[np.ndarray] = []
    for idx in order[: 4 * REFINED]:
        if len(tried) >= REFINED:
            break
        if any(_same(h[idx], other, model) for other in tried):
            continue
        tried.append(h[idx])
        refined = _refine(h[idx], model, ev, size)
        if not _plausible(refined[None], model, size)[0]:
            refined = h[idx]
        score = float(_scores(refined[None], model, _tight(ev), ev.scale, 60)[0])
        if best is None or score > best[1]:
            best = (refined, score)
    return best


def _tight(ev: _Evidence) -> np.ndarray:
    """Evidence maps tolerant to one pixel (the final score)."""
    if ev.tight is None:
        kernel = np.ones((3, 3), np.uint8)
        ev.tight = np.stack([cv2.dilate(m, kernel) for m in ev.maps])
    return ev.tight


def _same(h1: np.ndarray, h2: np.ndarray, model: _Model) -> bool:
    """Whether two hypotheses put the court's corners within a few pixels (in any of
    the court's symmetric labellings)."""
    c = np.array([[-model.half_w, -model.half_l], [model.half_w, -model.half_l],
                  [model.half_w, model.half_l], [-model.half_w, model.half_l]])
    a = _project(h1[None], c)[0][0]
    b = _project(h2[None], c)[0][0]
    return _corner_distance(a, b) < 4.0


def _corner_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest corner distance between two quads (corners in order round each),
    minimised over every labelling that keeps that order (start, direction)."""
    best = np.inf
    for perm in [[(s + k) % 4 for k in range(4)] for s in range(4)] + [[(s - k) % 4 for k in range(4)] for s in range(4)]:
        best = min(best, float(np.linalg.norm(a - b[list(perm)], axis=1).max()))
    return best


# --- the answer -------------------------------------------------------------------


def find_court(frames: list[np.ndarray], *, beach: bool | None = None) -> Court | None:
    """The court in grey analysis frames of one fixed camera, or None.

    `beach`: True for a beach court (8 x 16, outer lines only), False for indoor
    (9 x 18 with attack and centre lines), None to decide from the picture."""
    try:
        img = _median(list(frames))
    except (TypeError, ValueError):
        return None
    if img is None:
        return None
    size = (img.shape[1], img.shape[0])
    models = {True: [BEACH], False: [INDOOR], None: [INDOOR, BEACH]}[beach]
    polarities = []
    for sign in (1.0, -1.0):  # lines brighter than the floor, then darker
        ev = _evidence(sign * img)
        lines = _merge(_segments(ev), MAX_LINES)
        polarities.append((ev, lines, _line_contrast(ev, lines)))
    # one yardstick for both: the weaker polarity's lines are mostly edges of things
    common = max(p[2] for p in polarities)
    best: dict[bool, tuple[float, np.ndarray, _Evidence]] = {}
    for ev, lines, _ in polarities:
        ev.scale = common
        for model in models:
            found = _search(ev, lines, model, size)
            if found is not None and (model.beach not in best or found[1] > best[model.beach][0]):
                best[model.beach] = (found[1], found[0], ev)
    chosen = _which_court(best, beach)
    if chosen is None:
        return None
    h, model, ev = chosen
    score = _fit_share(h, model, _tight(ev), ev.scale)
    if score < MIN_SCORE:
        return None
    return _court(h, score, model, size)


def _which_court(best: dict, beach: bool | None):
    """Indoor or beach. Fits of the two models do not compare by score (four lines
    are easier to explain than seven), so the indoor fit wins when its attack and
    centre lines are there, and the beach fit otherwise."""
    if beach is not None:
        if beach not in best:
            return None
        _, h, ev = best[beach]
        return h, (BEACH if beach else INDOOR), ev
    if False in best:
        _, h, ev = best[False]
        if float(_scores(h[None], INDOOR, _tight(ev), ev.scale, 40, INNER)[0]) >= INNER_MIN:
            return h, INDOOR, ev
    if True in best:
        _, h, ev = best[True]
        return h, BEACH, ev
    return None


def _court(h: np.ndarray, score: float, model: _Model, size: tuple[int, int]) -> Court | None:
    """The answer in the contract's conventions: the camera above the floor on the
    court's -y side (or -x for a side view), corners near-left first."""
    h = h / np.linalg.norm(h)
    pose = _pose(h, size)
    if pose.position[2] < 0:  # a mirrored fit: the court is symmetric, flip x
        h = h @ np.diag([-1.0, 1.0, 1.0])
        pose = _pose(h, size)
    pos = pose.position
    behind_end = abs(pos[1]) / model.half_l >= abs(pos[0]) / model.half_w
    if (pos[1] > 0) if behind_end else (pos[0] > 0):  # turn the court half round
        h = h @ np.diag([-1.0, -1.0, 1.0])
        pose = _pose(h, size)
        pos = pose.position
    corners = _corners(h, model, pos, behind_end)
    if corners is None:
        return None
    homography = np.linalg.inv(h)
    homography /= homography[2, 2] if abs(homography[2, 2]) > 1e-12 else 1.0
    return Court(
        corners=corners,
        homography=homography,
        camera_height_m=float(pos[2]),
        camera_position_m=(float(pos[0]), float(pos[1]), float(pos[2])),
        score=float(np.clip(score, 0.0, 1.0)),
        beach=model.beach,
        focal_px=pose.focal,
        size=(int(size[0]), int(size[1])),
    )


def _corners(h: np.ndarray, model: _Model, pos: np.ndarray, behind_end: bool) -> np.ndarray | None:
    """Near-left, near-right, far-right, far-left in image pixels."""
    w, l = model.half_w, model.half_l
    if behind_end:  # camera at -y: the near end line is y = -l
        near, far = [(-w, -l), (w, -l)], [(w, l), (-w, l)]
    else:  # camera at -x: the near side line is x = -w
        near, far = [(-w, l), (-w, -l)], [(w, -l), (w, l)]
    pts, _ = _project(h[None], np.array(near + far, dtype=np.float64))
    pts = pts[0]
    if not np.isfinite(pts).all():
        return None
    if pts[0, 0] > pts[1, 0]:  # left as seen in the picture
        pts = pts[[1, 0, 3, 2]]
    return pts


def from_corners(corners, size: tuple[int, int], *, beach: bool = False) -> Court:
    """The court a user marked: its four outer corners in picture pixels (any order),
    for a picture of `size` (width, height). The homography is the one of the eight
    ways to lay the court's rectangle on the four points that a real camera (square
    pixels, principal point at the centre, above the floor) explains best; the camera
    height follows from it. Raises BadCalibration for points that are not a court."""
    pts = np.asarray(corners, dtype=np.float64)
    if pts.shape != (4, 2) or not np.isfinite(pts).all():
        raise BadCalibration("a court needs exactly four corners, each as [x, y] pixels")
    hull = cv2.convexHull(pts.astype(np.float32), returnPoints=True).reshape(-1, 2).astype(np.float64)
    if len(hull) != 4 or cv2.contourArea(hull.astype(np.float32)) < 1e-4 * size[0] * size[1]:
        raise BadCalibration("the four corners must enclose the court: no three in a line, none inside the others")
    model = BEACH if beach else INDOOR
    w, l = model.half_w, model.half_l
    rectangle = np.array([(-w, -l), (w, -l), (w, l), (-w, l)], dtype=np.float64)
    tries = []
    for turn in range(4):
        for order in (hull, hull[::-1]):
            tries.append(cv2.getPerspectiveTransform(rectangle.astype(np.float32), np.roll(order, turn, axis=0).astype(np.float32)))
    hs = np.array(tries, dtype=np.float64)
    hs /= np.linalg.norm(hs.reshape(len(hs), -1), axis=1)[:, None, None]
    focal, bad = _focal_batch(hs, size)
    heights = _heights(hs, np.maximum(focal, 1e-6), size)
    # A camera facing the court square on sees the same trapezoid for the court laid
    # lengthwise or across, at another focal length: a usual lens settles it.
    usual = TYPICAL_FOCAL * size[0]
    bad = np.where(np.isfinite(bad), bad, np.inf) + 0.01 * np.abs(np.log(np.maximum(focal, 1e-6) / usual))
    bad = bad + np.where(np.abs(heights) > 0.2, 0.0, np.inf)
    if not np.isfinite(bad).any():
        raise BadCalibration("no camera above the floor sees a court at those four corners")
    court = _court(hs[int(np.argmin(bad))], 1.0, model, size)
    if court is None:
        raise BadCalibration("no camera above the floor sees a court at those four corners")
    if not MARKED_HEIGHT[0] <= court.camera_height_m <= MARKED_HEIGHT[1]:
        raise BadCalibration(f"those four corners would put the camera {court.camera_height_m:.0f} m above the floor: "
                             "mark the four outer corners of the court")
    return court
