"""Gradient-boosted decision trees: the one learner behind vproc's models.

vproc's learned decisions (which flights are the ball in play, which moments of the
game are inside a rally, which stretches are rallies) are questions over a few dozen
numbers whose meaning is conditional, which is what shallow boosted trees handle
well. LightGBM fits them (`fit`: on the moment model's ~400,000 rows it takes seconds
where our own numpy learner took most of an hour, which made held-out training runs
impractical); the trees are then kept in our own form (`Trees`: complete trees of
fixed depth, plain JSON next to the code), so running a model needs numpy only.

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
#: Split candidates per feature (LightGBM's histogram bins).
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
    """Gradient boosting on the logistic loss (Newton steps per leaf); labels may be
    shares between 0 and 1 (the candidate trees learn an expected match). LightGBM
    fits (its histogram learner with these settings), and its trees are stored in this
    module's form, so running a model
    needs numpy only."""
    import lightgbm  # training only: running a model needs numpy alone

    y = np.clip(np.asarray(labels, dtype=float), 0.0, 1.0)
    params = {
        "objective": "cross_entropy", "learning_rate": RATE, "max_depth": DEPTH, "num_leaves": 2**DEPTH,
        "min_sum_hessian_in_leaf": MIN_LEAF, "min_data_in_leaf": 1, "lambda_l2": L2, "max_bin": BINS,
        "num_threads": 2, "deterministic": True, "force_row_wise": True, "seed": 0, "verbose": -1,
    }
    booster = lightgbm.train(params, lightgbm.Dataset(np.asarray(rows, dtype=float), y), num_boost_round=TREES)
    trees = [_complete(t["tree_structure"]) for t in booster.dump_model()["tree_info"]]
    return Trees(
        tuple(features),
        0.0,  # LightGBM folds the starting log-odds into its first tree's leaves
        tuple(tuple(int(v) for v in t[0]) for t in trees),
        tuple(tuple(float(v) for v in t[1]) for t in trees),
        tuple(tuple(round(float(v), 6) for v in t[2]) for t in trees),
    )


def _complete(node: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A LightGBM tree (dumped) as a complete tree of DEPTH levels: a leaf above the
    last level becomes inner nodes that never split (an infinite threshold sends every
    row left) over copies of its value."""
    features = np.zeros(2**DEPTH - 1, int)
    thresholds = np.full(2**DEPTH - 1, np.inf)
    leaves = np.zeros(2**DEPTH)

    def place(node: dict[str, Any], index: int, depth: int) -> None:
        if "leaf_value" in node or depth == DEPTH:
            first = (index + 1) * 2 ** (DEPTH - depth) - 2**DEPTH  # the leftmost leaf below
            leaves[first:first + 2 ** (DEPTH - depth)] = node.get("leaf_value", 0.0)
            return
        if node["decision_type"] != "<=":
            raise ValueError(f"unexpected LightGBM split {node['decision_type']!r}")
        features[index], thresholds[index] = node["split_feature"], float(node["threshold"])
        place(node["left_child"], 2 * index + 1, depth + 1)  # x <= threshold
        place(node["right_child"], 2 * index + 2, depth + 1)

    place(node, 0, 0)
    return features, thresholds, leaves


def _leaf(rows: np.ndarray, features: np.ndarray, thresholds: np.ndarray, depth: int) -> np.ndarray:
    node = np.zeros(len(rows), int)
    for _ in range(depth):
        node = 2 * node + 1 + (rows[np.arange(len(rows)), features[node]] > thresholds[node])
    return node - (2**depth - 1)
