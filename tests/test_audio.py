"""The game's sound as vproc hears it: contact pops and whistles, on real files made
with ffmpeg at test time whose sounds are placed at known times."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ffmpeg, realdata
from vproc.audio import HIT, listen, since_last, until_next

#: Short decaying pops (a ball being hit) at these seconds, over room noise.
POPS = (1.0, 2.5, 4.2, 6.9)
#: A referee's whistle: 3.1 kHz from 5.0 s to 5.5 s.
WHISTLE = (5.0, 5.5)


def _game_sound(path, gain: float = 1.0, audio: bool = True) -> None:
    pops = "+".join(f"between(t\\,{p}\\,{p + 0.06})*exp(-(t-{p})*60)*sin(2*PI*220*t)" for p in POPS)
    whistle = f"between(t\\,{WHISTLE[0]}\\,{WHISTLE[1]})*0.3*sin(2*PI*3100*t)"
    sound = ["-f", "lavfi", "-i", f"aevalsrc=exprs={gain}*(0.8*({pops})+{whistle}):s=48000:d=8",
             "-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude={0.01 * gain}:d=8:r=48000:seed=7"]
    video = ["-f", "lavfi", "-i", "color=c=gray:size=320x180:rate=25:duration=8"]
    if audio:
        ffmpeg(*video, *sound, "-filter_complex", "[1:a][2:a]amix=inputs=2:normalize=0[a]", "-map", "0:v", "-map", "[a]",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
               "-shortest", str(path))
    else:
        ffmpeg(*video, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))


#: Stretches with room noise only.
QUIET = ((1.3, 2.2), (2.8, 3.9))


def _pops_heard(cues) -> list[float]:
    """For each pop, when its first contact-strong hop starts (s)."""
    heard = []
    for pop in POPS:
        first = int((pop - 0.05 - cues.start) / 0.01)
        strong = np.flatnonzero(cues.onset[first:first + 15] >= HIT)
        heard.append(cues.start + (first + strong[0]) * 0.01 if len(strong) else None)
    return heard


def test_it_hears_each_ball_contact_at_its_time(tmp_path):
    path = tmp_path / "pops.mp4"
    _game_sound(path)
    cues = listen(path)
    assert _pops_heard(cues) == pytest.approx(list(POPS), abs=0.03)
    noise = max(cues.strongest("onset", *quiet) for quiet in QUIET)
    for pop in POPS:
        assert cues.strongest("onset", pop - 0.03, pop + 0.06) >= max(3 * noise, HIT), (pop, noise)


def test_it_hears_the_whistle_and_only_then(tmp_path):
    path = tmp_path / "whistle.mp4"
    _game_sound(path)
    cues = listen(path)
    assert cues.strongest("whistle", *WHISTLE) > 0.9
    for quiet in (*QUIET, (6.0, 6.8)):
        assert cues.strongest("whistle", *quiet) < 0.5, quiet


def test_what_it_hears_does_not_depend_on_the_recording_level(tmp_path):
    loud, quiet = tmp_path / "loud.mp4", tmp_path / "quiet.mp4"
    _game_sound(loud, gain=1.0)
    _game_sound(quiet, gain=0.05)
    a, b = listen(loud), listen(quiet)
    assert _pops_heard(a) == pytest.approx(_pops_heard(b), abs=0.02)
    for pop in POPS:
        strength = [c.strongest("onset", pop - 0.03, pop + 0.06) for c in (a, b)]
        assert strength[0] == pytest.approx(strength[1], rel=0.2), pop


def test_it_counts_contact_strong_moments_between_times(tmp_path):
    path = tmp_path / "pops.mp4"
    _game_sound(path)
    cues = listen(path)
    at_pops = cues.hits(np.array(POPS) - 0.05, np.array(POPS) + 0.1)
    assert (at_pops >= 1).all(), at_pops
    assert cues.hits(np.array([q[0] for q in QUIET]), np.array([q[1] for q in QUIET])).sum() <= 2


def test_a_video_without_sound_has_no_cues(tmp_path):
    path = tmp_path / "mute.mp4"
    _game_sound(path, audio=False)
    assert listen(path) is None


def test_a_muted_track_counts_as_no_sound():
    # The KATS-BEDS clip carries an AAC track of digital silence: "nothing heard" must
    # not read as "no contact", or its rally would be lost.
    assert listen(realdata("kats-beds-rally", "kats-beds-clip.mp4")) is None


def test_it_finds_the_strongest_cue_in_many_windows_at_once_as_one_at_a_time(tmp_path):
    path = tmp_path / "pops.mp4"
    _game_sound(path)
    cues = listen(path)
    since = np.array([-2.0, -0.5, 0.0, 0.93, 2.4, 4.999, 5.2, 6.8, 7.95, 9.0])
    for cue in ("onset", "whistle"):
        values = getattr(cues, cue)
        for width in (0.05, 0.3, 3.0):
            n = int(np.ceil(width / 0.01)) + 1
            one_at_a_time = []
            for s in since:
                first = int(np.floor((s - cues.start) / 0.01))
                window = values[max(first, 0):max(first + n, 0)]
                one_at_a_time.append(float(window.max()) if len(window) else 0.0)
            assert cues.strongest_in(cue, since, width) == pytest.approx(one_at_a_time), (cue, width)


def test_it_tells_whistle_blasts_from_contacts_and_times_them(tmp_path):
    path = tmp_path / "pops.mp4"
    _game_sound(path)
    cues = listen(path)
    assert cues.blasts == pytest.approx([WHISTLE[0]], abs=0.03)
    assert cues.contacts == pytest.approx(list(POPS), abs=0.03)
    assert cues.hits(np.array([WHISTLE[0] - 0.02]), np.array([WHISTLE[1]])) == pytest.approx([0])
    at = np.array([0.5, 4.0, 5.2, 9.5])
    assert since_last(cues.blasts, at, 3.0) == pytest.approx([3.0, 3.0, 0.2, 3.0], abs=0.03)
    assert until_next(cues.blasts, at, 3.0) == pytest.approx([3.0, 1.0, 3.0, 3.0], abs=0.03)
    assert since_last(cues.contacts, at, 10.0) == pytest.approx([10.0, 1.5, 1.0, 2.6], abs=0.03)
    assert until_next(cues.contacts, at, 10.0) == pytest.approx([0.5, 0.2, 1.7, 10.0], abs=0.03)
