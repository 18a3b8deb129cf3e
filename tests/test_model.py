"""The rally model: boosted trees fitted by LightGBM and kept as our own JSON trees, shipped trained;
the moment features and segments, and the candidate stretches that turn flights into rallies."""

from __future__ import annotations

import numpy as np
import pytest

from vproc.candidates import CUTS, FEATURES as CANDIDATE_FEATURES, MERGES as CANDIDATE_MERGES, Candidate, choose, describe, propose
from vproc.flightmodel import FEATURES as FLIGHT_FEATURES, flight_features
from vproc.model import MODEL_PATH, RallyModel
from vproc.rallies import find_rallies
from vproc.moments import FEATURES as MOMENT_FEATURES, STEP, moment_features, moment_times, segments
from vproc.tracker import Flight
from vproc.trees import Trees, fit

NAMES = tuple(f"x{i}" for i in range(12))


def _rows(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.uniform(0, 1, (count, len(NAMES)))
    # A conditional rule no single threshold and no linear model captures.
    labels = (rows[:, 2] > 0.5) != (rows[:, 10] > 0.4)
    return rows, labels


def test_the_trees_learn_a_conditional_rule_that_holds_on_unseen_rows():
    rows, labels = _rows(3000, seed=1)
    trees = fit(rows, labels, NAMES)
    unseen, truth = _rows(1000, seed=2)
    accuracy = float(((trees.probabilities(unseen) >= 0.5) == truth).mean())
    assert accuracy >= 0.95


def test_the_stored_trees_give_exactly_what_lightgbm_fitted_including_shallow_trees():
    import lightgbm

    from vproc import trees as learner

    rows, labels = _rows(2000, seed=4)
    soft = np.where(labels, 0.8, 0.1)  # the candidate trees learn shares, not yes/no
    params = {"objective": "cross_entropy", "learning_rate": learner.RATE, "max_depth": learner.DEPTH,
              "num_leaves": 2**learner.DEPTH, "min_sum_hessian_in_leaf": learner.MIN_LEAF, "min_data_in_leaf": 1,
              "lambda_l2": learner.L2, "max_bin": learner.BINS, "num_threads": 2, "deterministic": True,
              "force_row_wise": True, "seed": 0, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(rows, soft), num_boost_round=learner.TREES)
    ours = fit(rows, soft, NAMES)
    unseen, _ = _rows(500, seed=5)
    assert np.abs(ours.probabilities(unseen) - booster.predict(unseen)).max() < 1e-4
    # a rule this simple leaves most trees shallower than DEPTH: their leaves fill the levels below
    assert any(np.isinf(t).any() for t in np.asarray(ours.thresholds))


def test_trees_survive_a_round_trip_through_json_and_refuse_other_columns():
    rows, labels = _rows(500, seed=3)
    trees = fit(rows, labels, NAMES)
    again = Trees.from_json(trees.to_json(), NAMES)
    assert np.allclose(again.probabilities(rows), trees.probabilities(rows), atol=1e-5)
    with pytest.raises(ValueError, match="retrain"):
        Trees.from_json(trees.to_json(), NAMES[:-1])


def _arc(start: float) -> Flight:
    """A pass in the middle of a 640x360 picture: 150 px up and across the court."""
    t = np.arange(0, 1.2, 1 / 30)
    return Flight(t=t + start, x=200 + 150 * t, y=250 - 300 * t + 250 * t * t, size=4.0)


def _hop(start: float) -> Flight:
    """A ball bounced on the spot near the bottom edge, as a server does."""
    t = np.arange(0, 0.4, 1 / 30)
    return Flight(t=t + start, x=np.full(len(t), 620.0), y=340 - 60 * t + 150 * t**2, size=9.0)


def test_the_shipped_model_loads_and_tells_a_high_arc_from_a_hop_on_the_spot():
    model = RallyModel.load(MODEL_PATH)
    arc_p, hop_p = model.flights.probabilities(flight_features([_arc(0.0), _hop(5.0)], 640, 360, 30.0))
    assert 0.0 <= hop_p < arc_p <= 1.0
    assert 0.0 < model.accept < 1.0


def test_a_game_without_sound_is_judged_by_the_model_for_the_picture_alone():
    model = RallyModel.load(MODEL_PATH)
    assert model.silent is not None and model.silent.silent is None
    assert model.for_sound(None) is model.silent
    flights = [_arc(0.0), _arc(1.3), _arc(2.6), _hop(9.0)]
    described = flight_features(flights, 640, 360, 30.0)
    heard_chances, silent_chances = model.flight_chances(described), model.silent.flight_chances(described)
    found = find_rallies(flights, 640, 360, frame_rate=30.0)
    by_the_picture_model = find_rallies(flights, 640, 360, frame_rate=30.0, model=model.silent)
    assert [(r.start, r.end) for r in found] == [(r.start, r.end) for r in by_the_picture_model]
    assert not np.allclose(heard_chances, silent_chances)  # two models, not one stored twice


def test_a_model_survives_a_round_trip_through_its_file(tmp_path):
    model = RallyModel.load(MODEL_PATH)
    model.save(tmp_path / "model.json")
    assert RallyModel.load(tmp_path / "model.json") == model


def test_moments_lie_on_one_grid_whatever_window_they_are_asked_for():
    whole = moment_times(0.0, 60.0)
    window = moment_times(20.03, 40.0)
    assert np.allclose(np.diff(whole), STEP)
    assert set(np.round(window, 6)) <= set(np.round(whole, 6))


def test_moment_features_see_the_likely_flight_around_a_moment():
    flights = [_arc(10.0), _hop(20.0)]
    described = flight_features(flights, 640, 360, 30.0)
    found = moment_features(flights, described, np.array([0.9, 0.1]), moment_times(0.0, 30.0))
    assert found.rows.shape == (len(found.t), len(MOMENT_FEATURES))
    nearest = found.rows[:, MOMENT_FEATURES.index("max_p_0.25")]
    assert nearest[np.argmin(np.abs(found.t - 10.5))] == pytest.approx(0.9)
    assert nearest[np.argmin(np.abs(found.t - 20.1))] == pytest.approx(0.1)
    assert nearest[np.argmin(np.abs(found.t - 15.0))] == 0.0
    assert len(FLIGHT_FEATURES) == described.shape[1]


def test_segments_join_close_runs_and_drop_short_ones():
    t = moment_times(0.0, 10.0)
    chance = np.zeros(len(t))
    chance[(t > 1.0) & (t < 3.0)] = 0.9
    chance[(t > 3.4) & (t < 5.0)] = 0.9  # 0.4 s later: the same rally
    chance[(t > 8.0) & (t < 8.3)] = 0.9  # too short to be a rally
    assert segments(t, chance, threshold=0.5, merge=1.0, shortest=0.7) == [(1.0, 5.0)]
    assert segments(t, chance, threshold=0.5, merge=0.2, shortest=0.7) == [(1.0, 3.0), (3.4, 5.0)]


def test_candidates_are_every_distinct_run_above_each_cut_and_the_faint_short_one_too():
    t = moment_times(0.0, 20.0)
    chance = np.zeros(len(t))
    chance[(t > 1.0) & (t < 6.0)] = 0.8  # a long rally...
    chance[(t > 0.0) & (t < 1.0)] = 0.3  # ...with a quiet lead-in
    chance[(t > 12.0) & (t < 13.0)] = 0.3  # a faint ace
    found = [(c.start, c.end) for c in propose(t, chance, shortest=0.7)]
    assert (1.0, 6.0) in found and (0.0, 6.0) in found and (12.0, 13.0) in found
    assert len(found) == len(set(found))
    assert all(c.cut in CUTS and c.merge in CANDIDATE_MERGES for c in propose(t, chance, shortest=0.7))


def test_a_short_rally_right_after_the_serve_prep_is_a_candidate_of_its_own():
    t = moment_times(0.0, 20.0)
    chance = np.zeros(len(t))
    chance[(t > 10.0) & (t < 10.5)] = 0.8  # the server's bounce, too short to be a rally
    chance[(t > 11.5) & (t < 12.5)] = 0.8  # an ace a second later
    found = [(c.start, c.end) for c in propose(t, chance, shortest=0.7)]
    assert (11.5, 12.5) in found and (10.0, 12.5) in found


def test_the_best_candidates_are_kept_without_overlapping_and_in_time_order():
    proposed = [Candidate(0.0, 6.0, 0.15, 2.0), Candidate(1.0, 6.0, 0.55, 2.0), Candidate(12.0, 13.0, 0.25, 2.0)]
    assert choose(proposed, np.array([0.4, 0.8, 0.6]), accept=0.5) == [(1.0, 6.0), (12.0, 13.0)]
    assert choose(proposed, np.array([0.9, 0.8, 0.6]), accept=0.5) == [(0.0, 6.0), (12.0, 13.0)]
    assert choose(proposed, np.array([0.4, 0.3, 0.2]), accept=0.5) == []


def test_a_candidate_is_described_by_its_chances_its_flights_and_the_moments_at_its_edges():
    flights = [_arc(10.0), _hop(20.0)]
    described = flight_features(flights, 640, 360, 30.0)
    likely = np.array([0.9, 0.1])
    found = moment_features(flights, described, likely, moment_times(0.0, 30.0))
    chance = np.where((found.t > 10.0) & (found.t < 11.2), 0.8, 0.05)
    proposed = propose(found.t, chance, shortest=0.7)
    rows = describe(proposed, found, chance, flights, likely)
    assert rows.shape == (len(proposed), len(CANDIDATE_FEATURES)) == (1, len(CANDIDATE_FEATURES))
    row = dict(zip(CANDIDATE_FEATURES, rows[0]))
    assert row["duration"] == pytest.approx(1.2) and row["max_flight"] == pytest.approx(0.9)
    assert row["likely_flights"] == 1 and row["before_chance"] == pytest.approx(0.05)
    assert row["start_max_p_0.25"] == pytest.approx(0.9)
