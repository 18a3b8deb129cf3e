"""clipper: web clips, posters and reels built from real framer segments."""

from __future__ import annotations

import av
import numpy as np
import pytest

from clipper import build_outputs
from clipper.media import is_faststart
from framer import export_rallies
from tests.conftest import (
    decode_errors, ffprobe, frame_numbers, read_number, stream_durations, stream_rotation, sync_errors,
)
from volley.exceptions import FFmpegError
from volley.payloads import Outputs, Rally, Segment

SCORES = [0.5, 0.9, 0.1, 0.7, 0.3]


def game_rallies() -> list[Rally]:
    starts = [2.3, 8.0, 13.5, 17.2, 23.0]
    return [Rally(n, s, s + 2.5, score=score) for n, (s, score) in enumerate(zip(starts, SCORES), start=1)]


@pytest.fixture(scope="module")
def built(games, tmp_path_factory):
    """Five rallies of the B-frame game cut, then built with a best reel of two."""
    game, rallies = games["bframes"], game_rallies()
    segments = export_rallies(game.path, game.info, rallies, tmp_path_factory.mktemp("work"), 1.5, 2.0)
    out_dir = tmp_path_factory.mktemp("out")
    return segments, rallies, build_outputs(segments, rallies, out_dir, 2), out_dir


def runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive frame-number runs: one per clip in a reel."""
    found, start = [], numbers[0]
    for before, after in zip(numbers, numbers[1:]):
        if after != before + 1:
            found.append((start, before))
            start = after
    return found + [(start, numbers[-1])]


def top_level_boxes(path) -> list[str]:
    data, boxes, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8].decode()
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        boxes.append(kind)
        pos += size if size else len(data)
    return boxes


def test_every_rally_gets_a_faststart_h264_aac_clip(built):
    _, rallies, outputs, out_dir = built
    assert sorted(outputs.clips) == [r.index for r in rallies]
    for rally in rallies:
        clip = outputs.clips[rally.index]
        assert clip == out_dir / "clips" / f"rally-{rally.index:03d}.mp4"
        boxes = top_level_boxes(clip)
        assert boxes.index("moov") < boxes.index("mdat")
        codecs = [s["codec_name"] for s in ffprobe(clip, "stream=codec_name")["streams"]]
        assert codecs == ["h264", "aac"]


def test_a_web_ready_segment_is_remuxed_not_re_encoded(built):
    segments, _, outputs, _ = built
    def sizes(path):
        with av.open(str(path)) as container:
            return [p.size for p in container.demux(video=0) if p.size]

    for segment in segments:
        assert sizes(outputs.clips[segment.index]) == sizes(segment.path)


def test_each_poster_shows_a_frame_from_within_its_rally(games, built):
    _, rallies, outputs, out_dir = built
    game = games["bframes"]
    for rally in rallies:
        poster = outputs.posters[rally.index]
        assert poster == out_dir / "posters" / f"rally-{rally.index:03d}.jpg"
        frame = next(av.open(str(poster)).decode(video=0))
        assert frame.width <= 640
        shown = read_number(frame.to_ndarray(format="gray"))
        assert game.frame_at(rally.start) < shown < game.frame_at(rally.end)


def test_a_poster_is_the_keyframe_shortly_before_a_third_of_the_rally_or_else_that_very_frame(games, built):
    # The source has a keyframe every 2 s (50 frames). A third into rally 3
    # (13.5-16.0 s) is 14.33 s: the keyframe at 14.0 s is in the rally and less than
    # POSTER_SNAP before, so it is the poster (decoding one frame); rally 1's third
    # (3.13 s) has only the keyframe at 2.0 s before it, before the serve: the first
    # frame from that time on.
    _, rallies, outputs, _ = built
    game = games["bframes"]
    def first_from(t: float) -> int:
        return next(n for n, at in enumerate(game.times) if at >= t - 1e-6)

    expected = {1: first_from(2.3 + 2.5 / 3), 3: 350, 4: 450, 5: first_from(23.0 + 2.5 / 3)}
    shown = {
        index: read_number(next(av.open(str(outputs.posters[index])).decode(video=0)).to_ndarray(format="gray"))
        for index in expected
    }
    assert shown == expected


def test_the_digest_holds_every_clip_in_game_order_and_lasts_as_long_as_they_do(built):
    _, rallies, outputs, out_dir = built
    assert outputs.digest == out_dir / "digest.mp4"
    clips = [outputs.clips[r.index] for r in rallies]
    assert runs(frame_numbers(outputs.digest)) == [runs(frame_numbers(c))[0] for c in clips]
    total = sum(stream_durations(c)["video"] for c in clips)
    durations = stream_durations(outputs.digest)
    assert durations["video"] == pytest.approx(total, abs=0.02)
    assert durations["audio"] == pytest.approx(durations["video"], abs=0.05)
    assert decode_errors(outputs.digest) == ""
    boxes = top_level_boxes(outputs.digest)
    assert boxes.index("moov") < boxes.index("mdat")


def test_the_reels_keep_the_sound_in_sync_with_the_pictures(games, built):
    """Every beep in the reels sounds with the picture it was recorded with, in
    every clip after every join."""
    _, _, outputs, _ = built
    for reel in (outputs.digest, outputs.best):
        errors = sync_errors(reel, games["bframes"])
        assert len(errors) > 10 and max(map(abs, errors)) < 0.002


def test_the_best_reel_holds_the_top_rallies_in_game_order(built):
    _, rallies, outputs, _ = built
    top = [r for r in rallies if r.score in sorted(SCORES)[-2:]]  # rallies 2 and 4
    expected = [runs(frame_numbers(outputs.clips[r.index]))[0] for r in top]
    assert runs(frame_numbers(outputs.best)) == expected
    assert decode_errors(outputs.best) == ""


def test_no_rallies_give_no_clips_and_no_reels(tmp_path):
    outputs = build_outputs([], [], tmp_path, 5)
    assert outputs == Outputs()
    assert list(tmp_path.iterdir()) == []


def test_a_rerun_replaces_outputs_without_duplicates_or_leftovers(built):
    segments, rallies, first, out_dir = built
    before = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*"))
    (out_dir / "clips" / ".volley-rally-001.k1ll3d.mp4").write_bytes(b"half a clip")  # a killed run's
    again = build_outputs(segments, rallies, out_dir, 2)
    assert again == first
    assert sorted(p.relative_to(out_dir) for p in out_dir.rglob("*")) == before
    assert decode_errors(again.digest) == ""


def test_rotation_survives_into_clips_reels_and_upright_posters(games, tmp_path):
    game = games["rotated"]
    rallies = [Rally(1, 2.0, 3.0, score=1.0), Rally(2, 6.0, 7.0, score=0.5)]
    segments = export_rallies(game.path, game.info, rallies, tmp_path / "work", 0.5, 0.5)
    outputs = build_outputs(segments, rallies, tmp_path / "out", 1)
    for path in [*outputs.clips.values(), outputs.digest, outputs.best]:
        assert stream_rotation(path) == 90
    frame = next(av.open(str(outputs.posters[1])).decode(video=0))
    assert (frame.width, frame.height) == (360, 640)  # displayed portrait
    upright = np.rot90(frame.to_ndarray(format="gray"), k=-1)  # undo the display rotation
    assert game.frame_at(2.0) <= read_number(upright) <= game.frame_at(3.0)


def test_a_segment_a_browser_cannot_play_is_re_encoded(games, tmp_path):
    game = games["hevc"]
    segment = Segment(1, game.path, 0.0, game.info.duration)  # HEVC, as if the framer had kept it
    outputs = build_outputs([segment], [Rally(1, 1.0, 2.0)], tmp_path, 1)
    codec = ffprobe(outputs.clips[1], "stream=codec_name")["streams"][0]["codec_name"]
    assert codec == "h264"
    assert frame_numbers(outputs.clips[1]) == list(range(len(game.times)))


def test_clips_that_differ_are_re_encoded_into_one_reel(games, tmp_path):
    """A silent 480x272 30 fps clip and a 640x360 25 fps one with sound."""
    plain, bframes = games["plain"], games["bframes"]
    one = export_rallies(plain.path, plain.info, [Rally(1, 2.0, 4.0, score=1)], tmp_path / "a", 0, 0)
    two = export_rallies(bframes.path, bframes.info, [Rally(2, 6.0, 8.0, score=1)], tmp_path / "b", 0, 0)
    rallies = [Rally(1, 2.0, 4.0, score=1), Rally(2, 6.0, 8.0, score=1)]
    outputs = build_outputs(one + two, rallies, tmp_path / "out", 2)
    assert decode_errors(outputs.digest) == ""
    durations = stream_durations(outputs.digest)
    assert durations["video"] == pytest.approx(4.0, abs=0.1)
    assert durations["audio"] == pytest.approx(durations["video"], abs=0.1)


def test_clips_that_differ_only_in_h264_profile_are_joined_without_re_encoding(games, tmp_path):
    """A rally cut on a keyframe keeps the source's High profile; one whose first
    frames were re-encoded starts as Main. Re-encoding every clip of a game for its
    reels because of that took most of the build on a 10-minute game."""
    game = games["bframes"]
    rallies = [Rally(1, 4.0, 5.5, score=1), Rally(2, 9.1, 10.5, score=1)]  # keyframes every 2 s
    segments = export_rallies(game.path, game.info, rallies, tmp_path / "work", 0, 0)
    outputs = build_outputs(segments, rallies, tmp_path / "out", 2)
    profiles = {ffprobe(outputs.clips[r.index], "stream=profile")["streams"][0]["profile"] for r in rallies}
    assert profiles == {"High", "Main"}
    copied = [size for r in rallies for size in packet_sizes(outputs.clips[r.index])]
    assert packet_sizes(outputs.digest) == copied
    assert decode_errors(outputs.digest) == ""
    assert runs(frame_numbers(outputs.digest)) == [runs(frame_numbers(outputs.clips[r.index]))[0] for r in rallies]


def packet_sizes(path) -> list[int]:
    with av.open(str(path)) as container:
        return [p.size for p in container.demux(video=0) if p.size]


def test_an_ffmpeg_failure_surfaces_as_ffmpeg_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(FFmpegError) as caught:
        build_outputs([Segment(1, broken, 0.0, 1.0)], [Rally(1, 0.0, 1.0)], tmp_path / "out", 1)
    assert caught.value.returncode != 0 and caught.value.stderr_tail


def test_outputs_round_trip_through_json(built):
    outputs = built[2]
    assert Outputs.from_dict(outputs.to_dict()) == outputs


def test_a_silent_game_gives_silent_clips_and_reels(games, tmp_path):
    game = games["plain"]
    rallies = [Rally(1, 3.0, 5.0, score=0.2), Rally(2, 9.0, 11.0, score=0.8)]
    segments = export_rallies(game.path, game.info, rallies, tmp_path / "work", 1.0, 1.0)
    outputs = build_outputs(segments, rallies, tmp_path / "out", 1)
    for path in [*outputs.clips.values(), outputs.digest, outputs.best]:
        assert set(stream_durations(path)) == {"video"}
        assert decode_errors(path) == ""
    assert runs(frame_numbers(outputs.best)) == runs(frame_numbers(outputs.clips[2]))


def test_it_reports_progress_up_to_done(built, tmp_path):
    segments, rallies, _, _ = built
    seen = []
    build_outputs(segments[:2], rallies[:2], tmp_path, 1, lambda stage, f: seen.append((stage, f)))
    fractions = [f for stage, f in seen if stage == "building"]
    assert len(fractions) == len(seen) and fractions == sorted(fractions) and fractions[-1] == 1.0


def test_it_tells_a_faststart_file_from_one_with_the_index_at_the_end(built, still_video, tmp_path):
    segments = built[0]
    assert all(is_faststart(s.path) for s in segments)  # framer writes them ready to stream
    assert top_level_boxes(still_video).index("mdat") < top_level_boxes(still_video).index("moov")
    assert not is_faststart(still_video)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert not is_faststart(empty)
