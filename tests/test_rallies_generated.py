"""Rally finding and the whole pipeline on games rendered at test time with known truth.

The accuracy targets are F1 ≥ 0.95 and median boundary errors ≤ 0.5 s (measured by
bench/accuracy.py on games these tests never see). The floor asserted here is what
the engine reaches today, so a change that makes it worse fails; raise it as the
engine improves. See the issue note for the current figures.
"""

from __future__ import annotations

import json
import subprocess
import sys

import av
import numpy as np
import pytest

from volley.evaluation import Score, score
from volley.synth import GameSpec, render_game
from vproc.analyse import analyse
from vproc.audio import HIT
from vproc.flightmodel import BLAST_FAR, FEATURES as FLIGHT_FEATURES, flight_features
from vproc.model import RallyModel
from vproc import train as training
from vproc.train import evaluate, track_game, train

GAMES = [
    GameSpec(seed=21, width=640, height=360, fps=30.0, rallies=3, view="endline", setting="indoor"),
    GameSpec(seed=22, width=640, height=360, fps=25.0, rallies=3, view="side", setting="indoor"),
    GameSpec(seed=23, width=640, height=360, fps=30.0, rallies=3, view="endline", setting="beach"),
]
#: A regression floor, not the target (0.95 on bench/accuracy.py's fresh games): on
#: these nine rallies two misses and a false rally still pass.
F1_FLOOR = 0.8
#: The target, 0.5 s (0.03-0.1 s today on bench/accuracy.py's 36 rallies); here the
#: nine or so matched rallies decide the median.
BOUNDARY_CEILING = 0.5


@pytest.fixture(scope="module")
def calm_game(tmp_path_factory):
    """A game filmed from a steady tripod without distractors: what the training
    copies remove from it is then the detector's clear view of the ball."""
    path = tmp_path_factory.mktemp("calm") / "game.mp4"
    return path, render_game(path, GameSpec(seed=21, width=640, height=360, fps=30.0, rallies=3, distractors=False))


@pytest.fixture(scope="module")
def games(tmp_path_factory):
    folder = tmp_path_factory.mktemp("games")
    return [(folder / f"game-{spec.seed}.mp4", render_game(folder / f"game-{spec.seed}.mp4", spec)) for spec in GAMES]


@pytest.mark.slow
def test_it_finds_rallies_in_generated_games_above_the_regression_floor(games):
    total = Score(0, 0, 0, (), ())
    for path, truth in games:
        found = analyse(path).rallies
        total = total + score([(r.start, r.end) for r in found], truth.rallies)
    print(total.summary())
    assert total.f1 >= F1_FLOOR, total.summary()
    assert total.median_start_error <= BOUNDARY_CEILING, total.summary()
    assert total.median_end_error <= BOUNDARY_CEILING, total.summary()


@pytest.mark.slow
def test_it_writes_rallies_track_clips_posters_digest_and_best_reel(games, tmp_path):
    path, truth = games[0]
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "volley.cli", "process", str(path), "--out", str(out), "--best", "1", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "rallies.json").read_text())
    assert result["video"]["width"] == 640 and result["video"]["height"] == 360
    assert abs(result["video"]["duration"] - truth.duration) < 0.1
    rallies = result["rallies"]
    assert len(rallies) >= 1, "the sample game should yield at least one rally"
    for rally in rallies:
        assert rally["start"] < rally["end"]
        assert {"duration", "net_crossings", "peak_speed"} <= set(rally["stats"])
        assert (out / rally["clip"]).stat().st_size > 0
        assert (out / rally["poster"]).stat().st_size > 0
        with av.open(str(out / rally["clip"])) as clip:
            assert clip.streams.video[0].codec_context.name == "h264"
            assert clip.streams.audio[0].codec_context.name == "aac"
    assert (out / "digest.mp4").exists() and (out / "best.mp4").exists()
    frames = json.loads((out / "track.json").read_text())["frames"]
    assert frames and all(0 <= f["x"] <= 640 and 0 <= f["y"] <= 360 for f in frames)
    with av.open(str(out / "best.mp4")) as best:
        best_rally = max(rallies, key=lambda r: r["score"])
        clip_length = best_rally["end"] - best_rally["start"]
        assert float(best.duration) / av.time_base >= clip_length  # one rally plus padding


@pytest.mark.slow
def test_the_training_script_learns_from_a_generated_game(games, tmp_path):
    game = track_game(games[2][0])
    labels = game.labels()
    assert 0 < labels.sum() < len(labels)  # both kinds of flight are there to learn from
    model = train([game])
    model.save(tmp_path / "model.json")
    assert RallyModel.load(tmp_path / "model.json") == model
    assert evaluate(model, [game]).f1 >= F1_FLOOR


def _ball_flights(game, truth, at_serve: bool) -> list:
    """The flights on the true ball that overlap the first second of a rally (at_serve)
    or lie wholly after it."""
    on_the_ball = [f for f, play in zip(game.flights, game.labels()) if play]
    serving = lambda f: any(f.start < start + 1.0 and f.end > start for start, _ in truth.rallies)
    return [f for f in on_the_ball if serving(f) == at_serve]


@pytest.mark.slow
def test_training_also_sees_each_game_with_its_serves_unseen(calm_game, monkeypatch):
    monkeypatch.setattr(training, "MISSED_SERVE", (1.0, 1.0))
    monkeypatch.setattr(training, "MISSED_SHARE", 1.0)
    path, truth = calm_game
    seen, missed = track_game(path), training.with_the_serve_missed(path, seed=1)
    assert _ball_flights(seen, truth, at_serve=True), "the detector sees the serves of the clean game"
    assert not _ball_flights(missed, truth, at_serve=True)
    # The rest of each rally is left as it was (give or take a piece next to the gap).
    assert len(_ball_flights(missed, truth, at_serve=False)) >= len(_ball_flights(seen, truth, at_serve=False)) - 1


@pytest.mark.slow
def test_rallies_handed_on_early_are_the_ones_the_analysis_ends_with(tmp_path):
    # Long enough for rallies to settle well before the end: a rally settles once the
    # moment model's context (30 s) and more have been decoded past it.
    path = tmp_path / "game.mp4"
    render_game(path, GameSpec(seed=24, width=480, height=270, fps=25.0, rallies=6, distractors=False, audio=False))
    early = []
    final = analyse(path, early=lambda video, rallies: early.extend(rallies)).rallies
    assert early, "a game of six rallies settles at least one before its end"
    assert {(r.start, r.end) for r in early} <= {(r.start, r.end) for r in final}


def test_it_hears_the_serve_contacts_of_a_generated_game_and_can_go_without(games):
    path, truth = games[0]
    heard, silent = track_game(path), track_game(path, heard=False)
    assert silent.sound is None
    # The serve's pop reaches the camera a few hundredths of a second after the contact.
    serves = [heard.sound.strongest("onset", start - 0.03, start + 0.2) for start, _ in truth.rallies]
    assert all(strength >= HIT for strength in serves), serves
    loud, quiet = (flight_features(g.flights, g.width, g.height, g.frame_rate, g.sound) for g in (heard, silent))
    sound = [FLIGHT_FEATURES.index(name) for name in ("heard", "hit_at_start", "hit_at_end")]
    blast = FLIGHT_FEATURES.index("since_blast")
    picture = [i for i in range(len(FLIGHT_FEATURES)) if i not in sound and i != blast]
    assert (loud[:, picture] == quiet[:, picture]).all() and not quiet[:, sound].any()
    assert (loud[:, sound[0]] == 1).all()
    # No whistle is heard in a silent game: "none within reach", as for a long pause.
    assert (quiet[:, blast] == BLAST_FAR).all() and (loud[:, blast] < BLAST_FAR).any()


def test_training_also_hears_each_game_without_a_referee_and_beside_another_court(games, monkeypatch):
    game = track_game(games[0][0])
    heard = game.sound
    monkeypatch.setattr(training, "NO_REFEREE", 1.0)
    no_referee = training.with_other_sounds(game, seed=1).sound
    assert len(heard.blasts) >= 2 and len(no_referee.blasts) == 0
    assert set(np.round(no_referee.contacts, 2)) <= set(np.round(heard.contacts, 2))
    monkeypatch.setattr(training, "NO_REFEREE", 0.0)
    beside = training.with_other_sounds(game, seed=1).sound
    assert len(beside.blasts) > len(heard.blasts) and len(beside.contacts) > len(heard.contacts)
    # Their contacts and whistles are added to ours, which stay as they were.
    assert (beside.onset >= heard.onset).all() and (beside.whistle >= heard.whistle).all()
    assert training.with_other_sounds(game, seed=1).flights is game.flights  # the picture is untouched


@pytest.mark.slow
def test_it_can_be_told_to_ignore_the_sound_track_from_the_command_line(games, tmp_path):
    path, _ = games[1]
    done = subprocess.run(
        [sys.executable, "-m", "volley.cli", "process", str(path), "--out", str(tmp_path), "--no-clips", "--no-sound", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    written = [(r["start"], r["end"]) for r in json.loads((tmp_path / "rallies.json").read_text())["rallies"]]
    assert written == [(r.start, r.end) for r in analyse(path, hear=False).rallies]
