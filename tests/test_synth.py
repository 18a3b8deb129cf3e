"""The synthetic game renderer: real video files whose ground truth is known."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest

from volley.synth import GameSpec, Truth, render_game
from volley.synth.render import Scene

BASE = dict(seed=11, width=320, height=180, rallies=2)


@pytest.fixture(scope="module")
def games(tmp_path_factory):
    """A few small games rendered once for the whole module."""
    root = tmp_path_factory.mktemp("synth")
    specs = {
        "plain": GameSpec(**BASE),
        "rotated": GameSpec(**BASE, rotation=90),
        "quirky": GameSpec(seed=12, width=256, height=144, rallies=1, view="side", setting="beach",
                           vfr=True, start_offset=1.25, audio=False, distractors=False),
        "small": GameSpec(**dict(BASE, width=160, height=90)),
        "other": GameSpec(**dict(BASE, seed=13, width=160, height=90)),
    }
    out = {}
    for name, spec in specs.items():
        path = root / f"{name}.mp4"
        seen = []
        truth = render_game(path, spec, progress=seen.append)
        out[name] = (path, spec, truth, seen)
    return out


def _flat(rallies):
    return [t for rally in rallies for t in rally]


def _video_pts(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts = sorted(int(p.pts) for p in c.demux(s) if p.pts is not None)
        return pts, Fraction(s.time_base), s


def _frames(path, indices):
    """Decoded frames (as stored, before rotation) at the given decode indices, and each frame's rotation."""
    wanted = set(indices)
    out = {}
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in wanted:
                out[i] = (f.to_ndarray(format="bgr24"), f.rotation)
            if len(out) == len(wanted):
                break
    return out


def test_it_renders_an_h264_mp4_with_the_requested_size_and_frame_rate(games):
    path, spec, truth, _ = games["plain"]
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert c.format.name.startswith("mov")
        assert v.codec_context.name == "h264"
        assert (v.codec_context.width, v.codec_context.height) == (spec.width, spec.height)
        assert v.codec_context.pix_fmt == "yuv420p"
        assert float(v.average_rate) == pytest.approx(spec.fps, rel=1e-3)
    assert (truth.width, truth.height, truth.fps) == (spec.width, spec.height, spec.fps)


def test_it_renders_a_game_whose_frame_count_matches_its_duration(games):
    path, spec, truth, _ = games["plain"]
    pts, tb, _ = _video_pts(path)
    assert len(pts) == round(truth.duration * spec.fps)
    assert float((pts[-1] - pts[0]) * tb) + 1 / spec.fps == pytest.approx(truth.duration, abs=1e-6)
    assert truth.duration > 20


def test_it_writes_the_moov_atom_first_so_players_can_start_streaming_at_once(games):
    path = games["plain"][0]
    head = path.read_bytes()[:4096]
    assert 0 <= head.find(b"moov") < head.find(b"mdat") or head.find(b"mdat") == -1


def test_it_reports_progress_up_to_one(games):
    seen = games["plain"][3]
    assert seen and seen == sorted(seen)
    assert seen[-1] == pytest.approx(1.0)


def test_it_writes_the_truth_beside_the_video(games):
    path, _, truth, _ = games["plain"]
    side = path.with_suffix(".truth.json")
    assert side.exists()
    again = Truth.load(side)
    assert _flat(again.rallies) == pytest.approx(_flat(truth.rallies), abs=1e-5)
    assert len(again.ball) == len(truth.ball)
    assert Truth.from_json(json.loads(side.read_text())).duration == pytest.approx(truth.duration)


def test_truth_rallies_are_ordered_apart_and_inside_the_video(games):
    for name in ("plain", "quirky", "other"):
        truth = games[name][2]
        assert len(truth.rallies) == games[name][1].rallies
        previous_end = 0.0
        for start, end in truth.rallies:
            assert previous_end < start < end < truth.duration
            assert 0.5 < end - start < 40.0
            previous_end = end


def test_rallies_are_separated_by_a_pause(games):
    truth = games["plain"][2]
    (_, end0), (start1, _) = truth.rallies
    assert start1 - end0 > 5.0


def test_truth_ball_points_are_in_the_picture_and_in_play(games):
    for name in ("plain", "rotated", "quirky"):
        _, spec, truth, _ = games[name]
        assert truth.ball, name
        for t, x, y in truth.ball:
            assert 0 <= x < spec.width and 0 <= y < spec.height
            assert any(s - 1e-6 <= t <= e + 1e-6 for s, e in truth.rallies)


def test_truth_ball_times_are_frame_times(games):
    path, spec, truth, _ = games["quirky"]
    pts, tb, _ = _video_pts(path)
    frame_times = {round(float((p - pts[0]) * tb), 4) for p in pts}
    assert all(round(t, 4) in frame_times for t, _, _ in truth.ball)


def test_the_ball_is_seen_during_most_of_each_rally(games):
    _, spec, truth, _ = games["plain"]
    in_play = sum(int((e - s) * spec.fps) for s, e in truth.rallies)
    assert len(truth.ball) > 0.5 * in_play


def test_it_adds_an_aac_track_when_asked(games):
    path, _, truth, _ = games["plain"]
    with av.open(str(path)) as c:
        assert len(c.streams.audio) == 1
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    assert len(samples) / a.codec_context.sample_rate == pytest.approx(truth.duration, abs=0.1)
    assert np.abs(samples).max() > 0.05  # thumps and whistles, not silence


def test_it_leaves_the_audio_out_when_asked(games):
    with av.open(str(games["quirky"][0])) as c:
        assert len(c.streams.audio) == 0


def test_a_variable_frame_rate_game_has_uneven_frame_intervals(games):
    path, spec, truth, _ = games["quirky"]
    pts, tb, _ = _video_pts(path)
    gaps = {round(float((b - a) * tb), 5) for a, b in zip(pts, pts[1:])}
    step = round(1 / spec.fps, 5)
    assert step in gaps and any(g >= 2 * step - 1e-5 for g in gaps)
    assert 0.7 * truth.duration * spec.fps < len(pts) < 0.95 * truth.duration * spec.fps
    assert truth.extra["frames"] == len(pts)


def test_a_start_offset_shows_as_the_first_frame_time(games):
    path, spec, _, _ = games["quirky"]
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        first = next(c.decode(video=0))
        assert float(first.pts * v.time_base) == pytest.approx(spec.start_offset, abs=1e-3)
        assert float(v.start_time * v.time_base) == pytest.approx(spec.start_offset, abs=1e-3)


def test_a_rotated_game_is_stored_on_its_side_with_rotation_metadata(games):
    path, spec, truth, _ = games["rotated"]
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (spec.height, spec.width)
    (frame, rotation), = _frames(path, [0]).values()
    assert rotation == -90  # ffmpeg's convention: the player turns it 90 degrees clockwise
    assert (truth.width, truth.height) == (spec.width, spec.height)


def test_a_rotated_game_shows_upright_once_the_player_turns_it(games):
    index = 150
    (upright, _), = _frames(games["plain"][0], [index]).values()
    (stored, _), = _frames(games["rotated"][0], [index]).values()
    shown = np.rot90(stored, k=-1)  # clockwise, as the metadata says
    wrong = np.rot90(stored, k=1)
    right_err = np.abs(shown.astype(int) - upright.astype(int)).mean()
    wrong_err = np.abs(wrong.astype(int) - upright.astype(int)).mean()
    assert right_err < 8 and right_err < wrong_err / 3


def test_the_same_seed_gives_the_same_game_at_any_size(games):
    a, b = games["plain"][2], games["small"][2]
    assert _flat(a.rallies) == pytest.approx(_flat(b.rallies))
    assert a.duration == pytest.approx(b.duration)


def test_different_seeds_give_different_games(games):
    a, b = games["plain"][2], games["other"][2]
    assert _flat(a.rallies) != pytest.approx(_flat(b.rallies), abs=0.5)


def test_games_hold_short_rallies_as_well_as_long_ones(tmp_path):
    lengths = []
    for seed in range(1, 6):
        scene = Scene(GameSpec(seed=seed, width=160, height=90, rallies=10))
        lengths += [e - s for s, e in scene.plan.rallies]
    # Aces and serves into the net: under 3 s, but still a ball in flight.
    assert sum(0.5 <= d <= 3.0 for d in lengths) >= 0.15 * len(lengths)
    assert sum(d > 4.0 for d in lengths) >= 0.5 * len(lengths)


def test_an_endline_camera_sees_the_whole_court_and_the_net():
    scene = Scene(GameSpec(seed=7, width=320, height=180, view="endline"))
    cam = scene.canvas_cam.shifted(scene.margin, scene.margin)
    corners = np.array([(x, y, 0.0) for x in (-4.5, 4.5) for y in (-9.0, 9.0)] + [(0.0, 0.0, 2.43)])
    uv, depth = cam.project(corners)
    assert (depth > 0).all()
    assert ((uv[:, 0] > -20) & (uv[:, 0] < 340) & (uv[:, 1] > -20) & (uv[:, 1] < 200)).all()


@pytest.mark.parametrize("bad", [dict(width=321), dict(view="top"), dict(setting="grass"), dict(rotation=45),
                                 dict(start_offset=-1.0), dict(fps=0.0), dict(rallies=-1)])
def test_a_bad_spec_is_refused(bad):
    with pytest.raises(ValueError):
        GameSpec(**bad)
