"""The replay layout follows the stage, the screen share and the other cameras."""

from __future__ import annotations

from pathlib import Path

from recordings.layout import Canvas, Track, plan_layout

CANVAS = Canvas(1280, 720)


def track(identity: str, start: float, end: float, source: str = "camera") -> Track:
    return Track(Path(f"{identity}-{source}.mkv"), "video", source, identity, "vp8", start, end)


def test_the_presenter_is_large_and_another_camera_is_a_sidebar_tile() -> None:
    tracks = [track("presenter", 0, 10), track("site", 1, 10)]
    placements = {(p.track, p.region.name): p.intervals for p in plan_layout(tracks, [], CANVAS)}
    assert placements == {(0, "main"): ((0, 10),), (1, "slot0"): ((1, 10),)}


def test_a_screen_share_takes_the_main_region_and_moves_the_presenter_to_the_sidebar() -> None:
    tracks = [track("presenter", 0, 10), track("presenter", 4, 6, "screen"), track("site", 0, 10)]
    placements = {(p.track, p.region.name): p.intervals for p in plan_layout(tracks, [], CANVAS)}
    assert placements[(1, "main")] == ((4, 6),)
    assert placements[(0, "main")] == ((0, 4), (6, 10))
    assert placements[(0, "slot0")] == ((4, 6),)
    assert placements[(2, "slot0")] == ((0, 4), (6, 10))
    assert placements[(2, "slot1")] == ((4, 6),)


def test_a_stage_change_swaps_who_is_large() -> None:
    tracks = [track("a", 0, 10), track("b", 0, 10)]
    placements = {
        (p.track, p.region.name): p.intervals
        for p in plan_layout(tracks, [(0, "a"), (5, "b")], CANVAS)
    }
    assert placements == {
        (0, "main"): ((0, 5),),
        (0, "slot0"): ((5, 10),),
        (1, "main"): ((5, 10),),
        (1, "slot0"): ((0, 5),),
    }


def test_a_reconnected_camera_continues_in_the_same_region() -> None:
    tracks = [track("presenter", 0, 4), track("presenter", 5, 10)]
    placements = {(p.track, p.region.name): p.intervals for p in plan_layout(tracks, [], CANVAS)}
    assert placements == {(0, "main"): ((0, 4),), (1, "main"): ((5, 10),)}
