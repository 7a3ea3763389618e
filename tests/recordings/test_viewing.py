"""Watched ranges: the union of what was played, credited no faster than real time."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from models.viewing import (
    MAX_GAP_SECONDS,
    Heartbeat,
    ViewingState,
    apply_heartbeat,
    start_watching,
    union,
)

T0 = dt.datetime(2026, 11, 29, 20, 0, tzinfo=dt.UTC)
DURATION = 600.0


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_watching_at_normal_speed_is_credited_in_full() -> None:
    state = start_watching(ViewingState(), T0)
    for n in range(6):
        beat = Heartbeat(n, ((n * 10.0, n * 10.0 + 10.0),), n * 10.0 + 10.0)
        state, accepted, reason = apply_heartbeat(state, beat, at(n * 10 + 10), DURATION)
        assert (accepted, reason) == (True, "ok")
    assert state.credited == 60.0 and state.ranges == ((0.0, 60.0),) and state.position == 60.0


def test_watching_at_double_speed_earns_no_extra_credit() -> None:
    state = start_watching(ViewingState(), T0)
    state, _, _ = apply_heartbeat(state, Heartbeat(0, ((0.0, 20.0),), 20.0), at(10), DURATION)
    assert state.watched == 20.0 and state.credited == 10.0


def test_a_replayed_heartbeat_is_ignored() -> None:
    state = start_watching(ViewingState(), T0)
    beat = Heartbeat(3, ((0.0, 10.0),), 10.0)
    state, accepted, _ = apply_heartbeat(state, beat, at(10), DURATION)
    again, accepted_again, reason = apply_heartbeat(state, beat, at(20), DURATION)
    assert accepted and not accepted_again and reason == "replayed" and again == state
    older = Heartbeat(2, ((10.0, 20.0),), 20.0)
    assert apply_heartbeat(state, older, at(30), DURATION)[1:] == (False, "replayed")


def test_ranges_outside_the_video_are_refused() -> None:
    state = start_watching(ViewingState(), T0)
    for ranges in [((-1.0, 5.0),), ((590.0, 700.0),), ((20.0, 10.0),), ((float("nan"), 1.0),)]:
        new, accepted, reason = apply_heartbeat(state, Heartbeat(0, ranges, 0.0), at(60), DURATION)
        assert (accepted, reason, new) == (False, "out_of_range", state)


def test_seeking_back_does_not_count_the_same_seconds_twice() -> None:
    state = start_watching(ViewingState(), T0)
    state, _, _ = apply_heartbeat(state, Heartbeat(0, ((0.0, 30.0),), 30.0), at(30), DURATION)
    state, _, _ = apply_heartbeat(state, Heartbeat(1, ((10.0, 40.0),), 40.0), at(60), DURATION)
    assert state.ranges == ((0.0, 40.0),) and state.credited == 40.0


def test_coming_back_after_a_week_earns_no_week_of_budget() -> None:
    state = start_watching(ViewingState(), T0)
    state, _, _ = apply_heartbeat(state, Heartbeat(0, ((0.0, 10.0),), 10.0), at(10), DURATION)
    assert state.credited == 10.0
    week = 7 * 24 * 3600
    # A burst of forged heartbeats claiming the whole video, a week later.
    for n in range(1, 6):
        beat = Heartbeat(n, ((0.0, DURATION),), DURATION)
        state, accepted, _ = apply_heartbeat(state, beat, at(week + n * 0.1), DURATION)
        assert accepted
    assert state.watched == DURATION
    assert state.credited <= 10.0 + MAX_GAP_SECONDS + 1.0


def test_reopening_the_page_starts_a_new_session_that_earns_from_then_on() -> None:
    state = start_watching(ViewingState(), T0)
    state, _, _ = apply_heartbeat(state, Heartbeat(0, ((0.0, 10.0),), 10.0), at(10), DURATION)
    later = 3 * 24 * 3600
    state = start_watching(state, at(later))
    for n in range(1, 7):
        beat = Heartbeat(n, ((n * 10.0, n * 10.0 + 10.0),), n * 10.0 + 10.0)
        state, _, _ = apply_heartbeat(state, beat, at(later + n * 10), DURATION)
    assert state.started_at == T0 and state.credited == 70.0 and state.budget == 70.0


def test_a_pause_longer_than_the_bound_adds_only_the_bound() -> None:
    state = start_watching(ViewingState(), T0)
    state, _, _ = apply_heartbeat(state, Heartbeat(0, ((0.0, 10.0),), 10.0), at(10), DURATION)
    state, _, _ = apply_heartbeat(state, Heartbeat(1, (), 10.0), at(15), DURATION)  # pause
    state, _, _ = apply_heartbeat(state, Heartbeat(2, ((10.0, 20.0),), 20.0), at(600), DURATION)
    assert state.budget == 10.0 + 5.0 + MAX_GAP_SECONDS and state.credited == 20.0


def test_another_part_of_the_meeting_played_at_the_same_time_shares_the_clock() -> None:
    one = start_watching(ViewingState(), T0)
    two = start_watching(ViewingState(), T0)
    for n in range(6):
        now = at(5 + 5 * n)
        beat = Heartbeat(n, ((n * 10.0, n * 10.0 + 10.0),), 0.0)
        if n % 2:
            two, _, _ = apply_heartbeat(two, beat, now, DURATION, one.seen_at)
        else:
            one, _, _ = apply_heartbeat(one, beat, now, DURATION, two.seen_at)
    assert one.budget + two.budget <= 30.0 + 1e-9


ranges_st = st.lists(
    st.tuples(st.floats(0, DURATION), st.floats(0, 120)).map(
        lambda r: (r[0], min(DURATION, r[0] + r[1]))
    ),
    max_size=4,
).map(tuple)
heartbeats_st = st.lists(
    st.tuples(st.integers(-2, 30), ranges_st, st.floats(0, 60), st.floats(0, DURATION)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(heartbeats_st, st.floats(0, 30), st.booleans())
def test_no_sequence_of_heartbeats_credits_more_than_real_time_or_the_video_length(
    beats: list[tuple[int, tuple[tuple[float, float], ...], float, float]],
    open_delay: float,
    opened: bool,
) -> None:
    state = start_watching(ViewingState(), T0) if opened else ViewingState()
    now = at(open_delay)
    for sequence, ranges, wait, position in beats:
        now += dt.timedelta(seconds=wait)
        state, _, _ = apply_heartbeat(state, Heartbeat(sequence, ranges, position), now, DURATION)
        if state.started_at is not None:
            assert state.credited <= (now - state.started_at).total_seconds() + 1e-9
        assert state.credited <= state.budget + 1e-9
        assert state.credited <= DURATION
        assert state.credited <= state.watched + 1e-9
        assert all(0 <= a < b <= DURATION for a, b in state.ranges)


@settings(max_examples=100, deadline=None)
@given(st.lists(ranges_st, max_size=8), st.randoms())
def test_the_union_of_accepted_heartbeats_does_not_depend_on_their_order(
    batches: list[tuple[tuple[float, float], ...]], random: object
) -> None:
    shuffled = list(batches)
    random.shuffle(shuffled)  # type: ignore[attr-defined]

    def watch(order: list[tuple[tuple[float, float], ...]]) -> ViewingState:
        state = start_watching(ViewingState(), T0)
        for n, ranges in enumerate(order):
            state, accepted, _ = apply_heartbeat(
                state, Heartbeat(n, ranges, 0.0), at(10_000), DURATION
            )
            assert accepted
        return state

    first, second = watch(batches), watch(shuffled)
    assert first.ranges == second.ranges == union(r for b in batches for r in b)
    assert first.credited == second.credited


session_st = st.lists(
    st.tuples(ranges_st, st.floats(0, 10), st.integers(-1, 2)), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(session_st, st.floats(MAX_GAP_SECONDS, 30 * 24 * 3600), st.booleans()),
        max_size=6,
    )
)
def test_sessions_with_long_idle_gaps_never_credit_more_than_the_real_watching_time(
    sessions: list[tuple[list[tuple[tuple[tuple[float, float], ...], float, int]], float, bool]],
) -> None:
    """Watching in sessions (heartbeats at most 10 s apart) separated by idle gaps of up to a
    month: credit stays within the time really spent in the sessions plus one bound per session
    (the first heartbeat after an idle gap), and within the video's length."""
    state = ViewingState()
    now = T0
    watching = 0.0
    sequence = 0
    for beats, idle, opens_page in sessions:
        now += dt.timedelta(seconds=idle)
        if opens_page:
            state = start_watching(state, now)
        for ranges, wait, step in beats:
            now += dt.timedelta(seconds=wait)
            watching += wait
            sequence += step  # sometimes replayed or repeated
            state, _, _ = apply_heartbeat(state, Heartbeat(sequence, ranges, 0.0), now, DURATION)
            allowance = MAX_GAP_SECONDS * len(sessions)
            assert state.credited <= watching + allowance + 1e-6
            assert state.credited <= DURATION and state.credited <= state.watched + 1e-9
