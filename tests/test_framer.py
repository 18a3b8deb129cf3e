"""framer: frame-accurate rally segments, smart-cut from generated numbered-frame games."""

from __future__ import annotations

import pytest

from framer import export_rallies
from framer.plan import plan_cut
from framer.source import Packet, Source
from tests.conftest import (
    decode_errors, ffprobe, frame_numbers, stream_durations, stream_rotation, sync_errors,
)
from volley.payloads import Rally

H264_SOURCES = ["bframes", "plain", "vfr", "ts", "delayed"]


def ranges(game) -> dict[str, tuple[float, float]]:
    """A cut starting mid-GOP, and one starting on a keyframe (frame 100; GOP = 50/60 frames)."""
    end = game.info.duration
    return {"mid_gop": (3.3, min(7.5, end)), "on_keyframe": (game.times[100], min(game.times[200:] or [end]))}


@pytest.fixture(scope="module")
def cuts(games, tmp_path_factory):
    """Both ranges of every source, cut without padding: {(source, range name): Segment}."""
    made = {}
    for name in [*H264_SOURCES, "hevc", "rotated"]:
        game = games[name]
        wanted = ranges(game)
        rallies = [Rally(n, start, end) for n, (start, end) in enumerate(wanted.values(), start=1)]
        segments = export_rallies(game.path, game.info, rallies, tmp_path_factory.mktemp(name), 0.0, 0.0)
        made.update({(name, label): seg for label, seg in zip(wanted, segments)})
    return made


@pytest.mark.parametrize("source", H264_SOURCES)
@pytest.mark.parametrize("which", ["mid_gop", "on_keyframe"])
def test_it_cuts_within_one_frame_of_the_requested_times(games, cuts, source, which):
    game, (start, end) = games[source], ranges(games[source])[which]
    numbers = frame_numbers(cuts[source, which].path)
    # from exactly the frame showing at `start` to the last one starting before `end`,
    # or the one before it (a smart cut does not re-encode a one-frame tail)
    assert_within_one_frame(numbers, game.frame_at(start), game.last_before(end))


def assert_within_one_frame(numbers: list[int], first: int, last: int) -> None:
    """Every frame from exactly `first` to `last`, or to the frame before `last`."""
    assert numbers in (list(range(first, last + 1)), list(range(first, last))), (numbers[:3], numbers[-3:], first, last)


@pytest.mark.parametrize("source", [*H264_SOURCES, "hevc", "rotated"])
def test_the_joined_segment_decodes_without_errors(cuts, source):
    for which in ("mid_gop", "on_keyframe"):
        assert decode_errors(cuts[source, which].path) == ""


@pytest.mark.parametrize("source", ["bframes", "vfr", "ts", "delayed", "hevc"])
def test_audio_lasts_as_long_as_the_video(cuts, source):
    for which in ("mid_gop", "on_keyframe"):
        durations = stream_durations(cuts[source, which].path)
        assert durations["audio"] == pytest.approx(durations["video"], abs=0.05)


@pytest.mark.parametrize("source", ["bframes", "vfr", "ts", "delayed"])
def test_the_sound_stays_in_sync_with_the_pictures(games, cuts, source):
    for which in ("mid_gop", "on_keyframe"):
        errors = sync_errors(cuts[source, which].path, games[source])
        assert errors and max(map(abs, errors)) < 0.002


def test_a_source_without_audio_gives_segments_without_audio(cuts):
    assert set(stream_durations(cuts["plain", "mid_gop"].path)) == {"video"}


def test_only_the_partial_gops_at_the_ends_are_re_encoded(games):
    """A mid-GOP start re-encodes up to the next IDR; an end inside a mini-GOP of this
    source leaves one B-frame that would need a re-encoded tail, and the cut ends a
    frame early instead; a keyframe-to-keyframe cut is all copy."""
    def parts(name, start, end):
        game = games[name]
        with Source(game.path) as src:
            a, b = (src.facts.ticks(t + game.info.ffmpeg_offset) for t in (start, end))
            plan = plan_cut(src.scan(a, b), a, b, 1, src.facts.smart_cuttable)
        return [("copy" if p.copy else "encode", p.frames) for p in plan.parts]

    assert parts("bframes", 3.3, 7.5) == [("encode", 18), ("copy", 87)]  # frames 82..186 of 82..187; IDRs at 100, 150
    assert parts("bframes", 4.0, 8.0) == [("copy", 100)]
    assert parts("plain", 3.3, 7.5) == [("encode", 21), ("copy", 105)]  # no B-frames: no tail
    assert parts("hevc", 3.3, 5.0) == [("encode", 43)]  # not browser-friendly: transcoded


def test_an_hevc_source_is_transcoded_to_h264(games, cuts):
    stream = ffprobe(cuts["hevc", "mid_gop"].path, "stream=codec_name,pix_fmt")["streams"][0]
    assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
    game = games["hevc"]
    expected = list(range(game.frame_at(3.3), game.last_before(6.0) + 1))
    assert frame_numbers(cuts["hevc", "mid_gop"].path) == expected


def test_an_interlaced_source_is_deinterlaced_and_transcoded(games, tmp_path):
    game = games["interlaced"]
    assert ffprobe(game.path, "stream=field_order")["streams"][0]["field_order"] == "tt"
    (segment,) = export_rallies(game.path, game.info, [Rally(1, 1.3, 4.5)], tmp_path, 0.0, 0.0)
    assert ffprobe(segment.path, "stream=field_order")["streams"][0]["field_order"] == "progressive"
    assert frame_numbers(segment.path) == list(range(game.frame_at(1.3), game.last_before(4.5) + 1))


def test_rotation_metadata_survives(games, cuts):
    assert stream_rotation(games["rotated"].path) == 90
    for which in ("mid_gop", "on_keyframe"):
        assert stream_rotation(cuts["rotated", which].path) == 90


def test_a_variable_frame_rate_source_keeps_its_frame_timing(games, cuts):
    import av

    game = games["vfr"]
    numbers = frame_numbers(cuts["vfr", "mid_gop"].path)
    with av.open(str(cuts["vfr", "mid_gop"].path)) as container:
        stream = container.streams.video[0]
        times = [float(frame.pts * stream.time_base) for frame in container.decode(stream)]
    expected = [game.times[n] - game.times[numbers[0]] for n in numbers]
    assert times == pytest.approx(expected, abs=0.001)


def test_ranges_reaching_past_the_ends_of_the_video_are_clamped(games, tmp_path):
    game = games["bframes"]
    duration = game.info.duration
    rallies = [Rally(1, 0.5, 2.0), Rally(2, duration - 1.0, duration - 0.2)]
    first, last = export_rallies(game.path, game.info, rallies, tmp_path, 1.5, 2.0)
    assert (first.start, last.end) == (0.0, duration)
    assert frame_numbers(first.path)[0] == 0
    assert frame_numbers(last.path)[-1] == len(game.times) - 1


def test_overlapping_ranges_stay_separate_segments(games, tmp_path):
    game = games["plain"]
    rallies = [Rally(1, 5.0, 8.0), Rally(2, 9.0, 12.0)]  # overlap once padded
    one, two = export_rallies(game.path, game.info, rallies, tmp_path, 1.5, 2.0)
    assert one.path != two.path and one.end > two.start
    assert frame_numbers(one.path) == list(range(game.frame_at(3.5), game.last_before(10.0) + 1))
    assert frame_numbers(two.path) == list(range(game.frame_at(7.5), game.last_before(14.0) + 1))


def test_a_rerun_reuses_finished_segments_and_leaves_no_temporary_files(games, tmp_path):
    game = games["bframes"]
    rallies = [Rally(1, 3.3, 7.5), Rally(2, 12.1, 15.0)]
    first = export_rallies(game.path, game.info, rallies, tmp_path, 1.5, 2.0)
    stamps = [seg.path.stat().st_mtime_ns for seg in first]
    again = export_rallies(game.path, game.info, rallies, tmp_path, 1.5, 2.0)
    assert [seg.path for seg in again] == [seg.path for seg in first]
    assert [seg.path.stat().st_mtime_ns for seg in again] == stamps
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(seg.path.name for seg in first)


def test_a_killed_runs_leftovers_are_cleared(games, tmp_path):
    game = games["plain"]
    leftover = tmp_path / ".volley-cut-rally-001-x"
    leftover.mkdir()
    (leftover / "part-0.ts").write_bytes(b"partial")
    (segment,) = export_rallies(game.path, game.info, [Rally(1, 3.0, 4.0)], tmp_path, 0.0, 0.0)
    assert [p.name for p in tmp_path.iterdir()] == [segment.path.name]


@pytest.mark.parametrize("source", ["delayed", "ts", "vfr"])
def test_it_agrees_with_vprocs_probe_on_the_timeline(games, tmp_path, source):
    from vproc.probe import probe

    game = games[source]
    (segment,) = export_rallies(game.path, probe(game.path), [Rally(1, 3.3, 6.1)], tmp_path, 0.0, 0.0)
    assert_within_one_frame(frame_numbers(segment.path), game.frame_at(3.3), game.last_before(6.1))


def test_it_reports_progress_per_segment(games, tmp_path):
    game = games["plain"]
    seen = []
    rallies = [Rally(1, 3.0, 4.0), Rally(2, 6.0, 7.0)]
    export_rallies(game.path, game.info, rallies, tmp_path, 0.0, 0.0, lambda s, f: seen.append((s, f)))
    assert seen == [("cutting", 0.5), ("cutting", 1.0)]


def packets(bframes: bool, gop: int = 12) -> list[Packet]:
    """Packets in decode order of a closed-GOP stream, frame n shown at 10 n ticks: an
    IDR every `gop` frames, then P-frames, or (`bframes`) two B-frames between anchors,
    each stored after the anchor shown after it."""
    def kind(n: int) -> str:
        k = n % gop
        return "I" if k == 0 else "P" if not bframes or k % 3 == 0 or k == gop - 1 else "B"

    order, pending = [], []
    for n in range(48):
        if kind(n) == "B":
            pending.append(n)
        else:
            order, pending = order + [n] + pending, []
    order += pending
    return [Packet(10 * n, 10 * i - 20, 10, kind(n) == "I", kind(n) == "I") for i, n in enumerate(order)]


def shape(plan) -> list[tuple[str, int, int]]:
    return [("copy" if p.copy else "encode", p.first, p.end) for p in plan.parts]


def test_a_plan_without_b_frames_never_needs_a_tail():
    plan = plan_cut(packets(bframes=False), 35, 305, 1, True)  # frames 3..30
    assert shape(plan) == [("encode", 30, 120), ("copy", 120, 310)]
    assert plan.frames == 28


def test_a_plan_with_b_frames_re_encodes_only_what_follows_the_last_clean_point():
    plan = plan_cut(packets(bframes=True), 35, 295, 1, True)  # frames 3..29; 28 and 29 need P30
    assert shape(plan) == [("encode", 30, 120), ("copy", 120, 280), ("encode", 280, 300)]
    assert plan.frames == 27


def test_a_one_frame_tail_is_left_out_so_the_cut_ends_a_frame_early():
    plan = plan_cut(packets(bframes=True), 35, 285, 1, True)  # frames 3..28; 28 is a B of P30
    assert shape(plan) == [("encode", 30, 120), ("copy", 120, 280)]
    assert plan.frames == 25


def test_a_plan_ending_on_a_clean_point_has_no_tail():
    plan = plan_cut(packets(bframes=True), 120, 280, 1, True)  # frames 12..27
    assert shape(plan) == [("copy", 120, 280)]


def test_a_plan_with_no_idr_inside_is_one_re_encode():
    plan = plan_cut(packets(bframes=True), 15, 95, 1, True)
    assert shape(plan) == [("encode", 10, 100)] and plan.frames == 9


def test_a_source_that_cannot_be_copied_is_one_re_encode():
    plan = plan_cut(packets(bframes=True), 35, 285, 1, False)
    assert shape(plan) == [("encode", 30, 290)]
