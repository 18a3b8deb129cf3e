"""The players' motion cue (vproc/players.py): a ratio to the game's own usual level."""

import numpy as np

from vproc import flightmodel
from vproc.moments import CONTEXT, FEATURES, moment_features, moment_times
from vproc.players import MotionLog, PlayersMotion


def _game(rate: float = 30.0, seconds: float = 300.0, seed: int = 0) -> PlayersMotion:
    """Players who move twice as much in 8 s bursts every 20 s as between them."""
    t = np.arange(0.0, seconds, 1.0 / rate)
    burst = (t % 20.0) >= 12.0
    moving = np.where(burst, 0.02, 0.01) * np.random.default_rng(seed).uniform(0.9, 1.1, len(t))
    return PlayersMotion(t, moving)


def test_a_burst_of_motion_stands_above_the_usual_level_and_a_pause_below_it():
    motion = _game()
    during, between = motion.relative(np.array([256.0]), -1, 1), motion.relative(np.array([246.0]), -1, 1)
    assert during[0] > 1.5 and between[0] < 1.0


def test_the_same_play_filmed_bigger_gives_the_same_figures():
    """A closer camera makes every player bigger: the shares double, the ratios do not move."""
    motion = _game()
    closer = PlayersMotion(motion.t, motion.moving * 2.0)
    at = np.arange(5.0, 290.0, 0.7)
    assert np.allclose(motion.relative(at, -3, 3), closer.relative(at, -3, 3))


def test_a_moment_depends_on_nothing_later_than_the_moments_context():
    """Rallies settled while decoding goes on must score as the final pass scores them."""
    motion = _game()
    at = np.arange(30.0, 200.0, 0.1)
    horizon = at[-1] + CONTEXT
    cut = PlayersMotion(motion.t[motion.t <= horizon], motion.moving[motion.t <= horizon])
    assert np.allclose(cut.relative(at, 2, 6), motion.relative(at, 2, 6))


def test_frames_skipped_as_cuts_count_as_the_usual_level():
    motion = _game()
    moving = motion.moving.copy()
    moving[(motion.t > 100) & (motion.t < 110)] = np.nan
    blind = PlayersMotion(motion.t, moving)
    assert blind.relative(np.array([105.0]), -1, 1)[0] == 1.0
    assert np.isfinite(blind.relative(np.arange(0.0, 300.0, 0.5), -6, -2)).all()


def test_a_still_clip_and_no_frames_at_all_give_finite_figures():
    still = PlayersMotion(np.arange(0.0, 30.0, 0.04), np.zeros(750))
    empty = PlayersMotion(np.zeros(0), np.zeros(0))
    at = np.arange(0.0, 30.0, 0.1)
    assert np.isfinite(still.relative(at, -1, 1)).all()
    assert (empty.relative(at, -1, 1) == 1.0).all()


def test_the_log_kept_while_decoding_holds_every_frame_in_order():
    motion = _game(seconds=100.0)
    log = MotionLog()
    for t, m in zip(motion.t, motion.moving):
        log.add(float(t), float(m))
    kept = log.so_far()
    assert np.array_equal(kept.t, motion.t) and np.array_equal(kept.moving, motion.moving)


def test_the_moments_carry_the_players_motion_and_read_the_usual_level_without_it():
    motion = _game()
    times = moment_times(240.0, 260.0)
    columns = [i for i, name in enumerate(FEATURES) if name.startswith("players_")]
    no_flights = np.zeros((0, len(flightmodel.FEATURES)))
    without = moment_features([], no_flights, np.zeros(0), times).rows[:, columns]
    seen = moment_features([], no_flights, np.zeros(0), times, motion=motion).rows[:, columns]
    assert len(columns) == 4 and (without == 1.0).all()
    assert np.allclose(seen, np.stack([motion.relative(times, a, b) for a, b in ((-1, 1), (-3, 3), (-6, -2), (2, 6))], 1))
