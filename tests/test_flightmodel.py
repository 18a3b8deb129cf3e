"""The flight model: boosted trees fitted in numpy, saved as JSON, shipped trained."""

from __future__ import annotations

import numpy as np

from vproc.flightmodel import FEATURES, MODEL_PATH, FlightModel, fit, flight_features
from vproc.tracker import Flight


def _rows(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.uniform(0, 1, (count, len(FEATURES)))
    # A conditional rule no single threshold and no linear model captures.
    labels = (rows[:, 2] > 0.5) != (rows[:, 10] > 0.4)
    return rows, labels


def test_it_learns_a_conditional_rule_that_holds_on_unseen_rows():
    rows, labels = _rows(3000, seed=1)
    model = fit(rows, labels)
    unseen, truth = _rows(1000, seed=2)
    accuracy = float(((model.probabilities(unseen) >= 0.5) == truth).mean())
    assert accuracy >= 0.95


def test_a_model_survives_a_round_trip_through_json(tmp_path):
    rows, labels = _rows(500, seed=3)
    model = fit(rows, labels)
    model.save(tmp_path / "model.json")
    again = FlightModel.load(tmp_path / "model.json")
    assert np.allclose(again.probabilities(rows), model.probabilities(rows), atol=1e-5)


def test_the_shipped_model_loads_and_tells_a_high_arc_from_a_hop_on_the_spot():
    model = FlightModel.load(MODEL_PATH)
    t = np.arange(0, 1.2, 1 / 30)
    # A pass in the middle of a 640x360 picture: 150 px up and across the court.
    arc = Flight(t=t, x=200 + 150 * t, y=250 - 300 * t + 250 * t * t, size=4.0)
    # A ball bounced on the spot near the bottom edge, as a server does.
    hop = Flight(t=t[:12] + 5, x=np.full(12, 620.0), y=340 - 60 * t[:12] + 150 * t[:12] ** 2, size=9.0)
    arc_p, hop_p = model.probabilities(flight_features([arc, hop], 640, 360, 30.0))
    assert 0.0 <= hop_p < arc_p <= 1.0
    assert model.lead >= 0 and model.tail >= 0
