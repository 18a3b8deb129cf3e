"""Gradient-boosted decision trees in numpy: the one learner behind vproc's models.

Both of vproc's learned decisions (which flights are the ball in play, and which
moments of the game are inside a rally) are yes/no questions over a few dozen
scale-free numbers whose meaning is conditional, which is what shallow boosted
trees handle well. Written here rather than taken from a library because the
whole learner is ~100 lines, needs nothing beyond numpy at run time and stores
as plain JSON next to the code.

No I/O; `Trees.to_json` / `Trees.from_json` give and take plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Tree depth, number of trees, shrinkage, smallest leaf (summed p(1-p)), and the
#: L2 penalty on leaf values: small, shallow and slow. Depth 4 and 300 trees scored
#: rally F1 0.83 on ten held-out generated games where depth 3 and 150 trees got 0.80.
DEPTH = 4
TREES = 300
RATE = 0.05
MIN_LEAF = 5.0
L2 = 1.0
#: Split candidates per feature (quantiles of the training rows).
BINS = 32


@dataclass(frozen=True)
class Trees:
    """Every tree is complete and as deep as its leaves say (`DEPTH` when fitted here): node i splits on
    `features[i] > thresholds[i]` into children 2i+1 (no) and 2i+2 (yes); a node
    that does not split has an infinite threshold. Leaves hold log-odds steps."""

    features: tuple[str, ...]  # the names of the row's columns, in order
    base: float  # log-odds before any tree
    split_features: tuple[tuple[int, ...], ...]  # per tree, per inner node
    thresholds: tuple[tuple[float, ...], ...]
    leaves: tuple[tuple[float, ...], ...]  # per tree, 2**depth values

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """The chance of "yes" for each row."""
        rows = np.asarray(rows, dtype=float).reshape(-1, len(self.features))
        logit = np.full(len(rows), self.base)
        features, thresholds, leaves = (np.asarray(a) for a in (self.split_features, self.thresholds, self.leaves))
        depth = int(np.log2(leaves.shape[1])) if len(leaves) else 0
        for tree in range(len(leaves)):
            logit += leaves[tree][_leaf(rows, features[tree], thresholds[tree], depth)]
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "base": self.base,
            "split_features": [list(t) for t in self.split_features],
            "thresholds": [list(t) for t in self.thresholds],
            "leaves": [list(t) for t in self.leaves],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: tuple[str, ...]) -> "Trees":
        """Fails loudly when the trees were fitted on other columns than `expected`."""
        features = tuple(data["features"])
        if features != expected:
            raise ValueError(f"trees fitted on other features than {expected}; retrain with `python -m vproc.train`")
        return cls(
            features,
            float(data["base"]),
            tuple(tuple(int(v) for v in t) for t in data["split_features"]),
            tuple(tuple(float(v) for v in t) for t in data["thresholds"]),
            tuple(tuple(float(v) for v in t) for t in data["leaves"]),
        )


def fit(rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...]) -> Trees:
    """Gradient boosting on the logistic loss (Newton steps per leaf)."""
    y = np.asarray(labels).astype(float)
    prior = min(max(y.mean(), 1e-3), 1 - 1e-3)
    base = float(np.log(prior / (1 - prior)))
    edges = [np.unique(np.quantile(column, np.linspace(0, 1, BINS + 1)[1:-1])) for column in rows.T]
    binned = np.stack([np.searchsorted(e, column, side="left") for e, column in zip(edges, rows.T)], axis=1)
    logit = np.full(len(y), base)
    trees = []
    for _ in range(TREES):
        p = 1.0 / (1.0 + np.exp(-logit))
        split_features, thresholds, leaves = _grow(binned, edges, p - y, p * (1 - p))
        logit += leaves[_leaf(rows, split_features, thresholds, DEPTH)]
        trees.append((split_features, thresholds, leaves))
    return Trees(
        tuple(features),
        base,
        tuple(tuple(int(v) for v in t[0]) for t in trees),
        tuple(tuple(float(v) for v in t[1]) for t in trees),
        tuple(tuple(round(float(v), 6) for v in t[2]) for t in trees),
    )


def _leaf(rows: np.ndarray, features: np.ndarray, thresholds: np.ndarray, depth: int) -> np.ndarray:
    node = np.zeros(len(rows), int)
    for _ in range(depth):
        node = 2 * node + 1 + (rows[np.arange(len(rows)), features[node]] > thresholds[node])
    return node - (2**depth - 1)


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
