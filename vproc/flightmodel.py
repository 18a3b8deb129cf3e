"""Which flights are the ball in play: a small learned model over what a flight looks like.

The tracker finds many smooth flights, and most are not play: the server's
bounces, balls thrown back, warm-up balls, heads and hands that happen to move
smoothly. Hand-set thresholds on one property at a time (gravity, path length)
kept too few in-play flights and too many others. This module turns each flight
into a handful of scale-free numbers (`flight_features`) and weighs them with a
small gradient-boosted tree ensemble (`FlightModel`) trained by `vproc/train.py`
on generated games whose ball is known. Trees, not a linear model, because what
tells play apart is conditional (a low flight is play when it travels and
rises, not when it hops on the spot): on 24 generated games a logistic
regression over the same numbers reached rally F1 0.57, boosted trees 0.67. The weights live in `flight_model.json` next to this
file; retrain them whenever the detector, the tracker or the features change.

No I/O apart from loading and saving the weights; numpy only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vproc.tracker import Flight

MODEL_PATH = Path(__file__).with_name("flight_model.json")

#: Flights this close in time (s) are a flight's neighbourhood: play keeps one ball
#: in the air, a warm-up or a crowd of distractors keeps several.
NEIGHBOURHOOD = 3.0

FEATURES = (
    "log_duration",  # long flights are rarely noise
    "density",  # share of the frames in the flight where the ball was detected
    "gravity",  # downward acceleration, frame heights per s²
    "sideways",  # sideways acceleration relative to the fall
    "travel",  # start-to-end displacement, frame heights
    "path",  # path length, frame heights
    "peak_speed",  # frame heights per second
    "median_speed",
    "size",  # blob size, frame heights
    "mean_y",  # where in the picture, 0 = top
    "top_y",  # the flight's highest point: play goes high, dead balls stay low
    "off_centre",  # horizontal distance from the picture's middle, frame widths
    "roughness",  # RMS distance from the flight's parabola, in ball sizes
    "rise",  # vertical speed at the start, frame heights per second (up is negative)
    "concurrent",  # other flights in the air at the same time
    "neighbours",  # other flights within NEIGHBOURHOOD seconds
    "neighbour_time",  # their air time within it, seconds
)


def flight_features(flights: list[Flight], width: int, height: int, frame_rate: float) -> np.ndarray:
    """One row of FEATURES per flight (analysis pixels in, scale-free numbers out)."""
    rows = np.zeros((len(flights), len(FEATURES)))
    if not flights:
        return rows
    starts = np.array([f.start for f in flights])
    ends = np.array([f.end for f in flights])
    for i, flight in enumerate(flights):
        rows[i] = _own(flight, width, height, frame_rate) + _context(flight, starts, ends)
    return rows


def _own(flight: Flight, width: int, height: int, frame_rate: float) -> list[float]:
    ax, ay = flight.acceleration()
    speeds = flight.speeds() / height
    gravity = float(np.clip(ay / height, -10, 10))
    _, rise = flight.velocity(flight.start)
    return [
        float(np.log(flight.duration + 0.05)),
        min(len(flight.t) / (flight.duration * frame_rate + 1.0), 1.0),
        gravity,
        float(min(abs(ax / height) / (abs(gravity) + 0.3), 10.0)),
        flight.displacement() / height,
        flight.path_length() / height,
        float(min(np.percentile(speeds, 90), 10.0)) if len(speeds) else 0.0,
        float(min(np.median(speeds), 10.0)) if len(speeds) else 0.0,
        flight.size / height,
        float(flight.y.mean() / height),
        float(flight.y.min() / height),
        float(abs(flight.x.mean() / width - 0.5)),
        flight.roughness() / max(flight.size, 1.0),
        float(np.clip(rise / height, -10, 10)),
    ]


def _context(flight: Flight, starts: np.ndarray, ends: np.ndarray) -> list[float]:
    concurrent = int(np.sum((starts < flight.end) & (ends > flight.start))) - 1
    near = (starts < flight.end + NEIGHBOURHOOD) & (ends > flight.start - NEIGHBOURHOOD)
    overlap = np.minimum(ends[near], flight.end + NEIGHBOURHOOD) - np.maximum(starts[near], flight.start - NEIGHBOURHOOD)
    return [float(concurrent), float(near.sum() - 1), float(overlap.sum() - flight.duration)]


@dataclass(frozen=True)
class FlightModel:
    """Boosted trees over FEATURES, plus what rally finding learned alongside them
    (see vproc/train.py). Every tree is complete and `DEPTH` deep: node i splits on
    `features[i] > thresholds[i]` into children 2i+1 (no) and 2i+2 (yes); a node
    that does not split has an infinite threshold. Leaves hold log-odds steps."""

    features: tuple[str, ...]
    base: float  # log-odds before any tree
    split_features: tuple[tuple[int, ...], ...]  # per tree, per inner node
    thresholds: tuple[tuple[float, ...], ...]
    leaves: tuple[tuple[float, ...], ...]  # per tree, 2**DEPTH values
    #: Keep flights at least this likely to be the ball in play.
    threshold: float = 0.3
    #: The tracker starts a flight a little after the contact (it needs three
    #: detections, and the server's arm hides the ball) and loses it a little before
    #: it lands (among the players' legs): rallies are widened by these (s).
    lead: float = 0.0
    tail: float = 0.0

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """The chance that each flight (a row of `flight_features`) is the ball in play."""
        logit = np.full(len(rows), self.base)
        features, thresholds, leaves = (np.asarray(a) for a in (self.split_features, self.thresholds, self.leaves))
        for tree in range(len(leaves)):
            logit += leaves[tree][_leaf(rows, features[tree], thresholds[tree])]
        return 1.0 / (1.0 + np.exp(-logit))

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "FlightModel":
        data = json.loads(Path(path).read_text())
        model = cls(**{k: _tuples(v) for k, v in data.items()})
        if model.features != FEATURES:
            raise ValueError(f"{path}: trained on other features; retrain with vproc/train.py")
        return model

    def save(self, path: Path = MODEL_PATH) -> None:
        Path(path).write_text(json.dumps(asdict(self), separators=(",", ":")) + "\n")


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


#: Tree depth, number of trees, shrinkage, smallest leaf (summed p(1-p)), and the
#: L2 penalty on leaf values: small, shallow and slow, as 4000 flights allow.
DEPTH = 3
TREES = 150
RATE = 0.05
MIN_LEAF = 5.0
L2 = 1.0
#: Split candidates per feature (quantiles of the training rows).
BINS = 32


def _leaf(rows: np.ndarray, features: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    node = np.zeros(len(rows), int)
    for _ in range(DEPTH):
        node = 2 * node + 1 + (rows[np.arange(len(rows)), features[node]] > thresholds[node])
    return node - (2**DEPTH - 1)


def fit(rows: np.ndarray, labels: np.ndarray) -> FlightModel:
    """Gradient boosting on the logistic loss (Newton steps per leaf); `labels` are
    True for flights of the ball in play."""
    y = labels.astype(float)
    prior = min(max(y.mean(), 1e-3), 1 - 1e-3)
    base = float(np.log(prior / (1 - prior)))
    edges = [np.unique(np.quantile(column, np.linspace(0, 1, BINS + 1)[1:-1])) for column in rows.T]
    binned = np.stack([np.searchsorted(e, column, side="left") for e, column in zip(edges, rows.T)], axis=1)
    logit = np.full(len(y), base)
    trees = []
    for _ in range(TREES):
        p = 1.0 / (1.0 + np.exp(-logit))
        features, thresholds, leaves = _grow(binned, edges, p - y, p * (1 - p))
        logit += leaves[_leaf(rows, features, thresholds)]
        trees.append((features, thresholds, leaves))
    return FlightModel(
        FEATURES,
        base,
        tuple(tuple(int(v) for v in t[0]) for t in trees),
        tuple(tuple(float(v) for v in t[1]) for t in trees),
        tuple(tuple(round(float(v), 6) for v in t[2]) for t in trees),
    )


def _grow(binned: np.ndarray, edges: list[np.ndarray], gradient: np.ndarray, hessian: np.ndarray):
    """One complete tree of DEPTH levels, splits chosen by the Newton gain."""
    inner = 2**DEPTH - 1
    features = np.zeros(inner, int)
    thresholds = np.full(inner, np.inf)
    leaves = np.zeros(2**DEPTH)
    node = np.zeros(len(gradient), int)
    for i in range(inner):
        here = node == i
        node[here] = 2 * i + 1
        best = _best_split(binned[here], gradient[here], hessian[here], [len(e) for e in edges])
        if best is not None:
            features[i], b = best
            thresholds[i] = edges[features[i]][b]
            node[here & (binned[:, features[i]] > b)] = 2 * i + 2
    for leaf in range(2**DEPTH):
        at = node == inner + leaf
        leaves[leaf] = -RATE * gradient[at].sum() / (hessian[at].sum() + L2)
    return features, thresholds, leaves


def _best_split(binned: np.ndarray, gradient: np.ndarray, hessian: np.ndarray, sizes: list[int]) -> tuple[int, int] | None:
    """(feature, bin) of the best split of these rows: bins <= b go left. A feature
    with `sizes[f]` edges has that many places to split."""
    if hessian.sum() < 2 * MIN_LEAF:
        return None
    g_all, h_all = gradient.sum(), hessian.sum()
    best, best_gain = None, 1e-9
    for f in range(binned.shape[1]):
        g = np.cumsum(np.bincount(binned[:, f], gradient, minlength=BINS))[:-1]
        h = np.cumsum(np.bincount(binned[:, f], hessian, minlength=BINS))[:-1]
        ok = (h >= MIN_LEAF) & (h_all - h >= MIN_LEAF) & (np.arange(BINS - 1) < sizes[f])
        gain = np.where(ok, g**2 / (h + L2) + (g_all - g) ** 2 / (h_all - h + L2), -np.inf) - g_all**2 / (h_all + L2)
        b = int(np.argmax(gain))
        if gain[b] > best_gain:
            best, best_gain = (f, b), float(gain[b])
    return best
