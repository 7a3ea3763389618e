"""Watched ranges: the union of what was played, credited no faster than real time."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from models.viewing import Heartbeat, ViewingState, apply_heartbeat, start_watching, union

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
