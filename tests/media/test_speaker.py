"""Active-speaker decisions are debounced."""

from __future__ import annotations

from media.speaker import SILENT_TO_CLEAR, SpeakerState, decide


def test_the_first_voice_heard_becomes_the_speaker_at_once() -> None:
    state = SpeakerState()
    assert decide(state, "a")
    assert state.current == "a"


def test_a_new_voice_must_win_twice_in_a_row_to_take_over() -> None:
    state = SpeakerState()
    decide(state, "a")
    assert not decide(state, "b")
    assert not decide(state, "a")
    assert not decide(state, "b")
    assert decide(state, "b")
    assert state.current == "b"


def test_silence_clears_the_speaker_only_after_a_while() -> None:
    state = SpeakerState()
    decide(state, "a")
    changes = [decide(state, None) for _ in range(SILENT_TO_CLEAR)]
    assert changes == [False] * (SILENT_TO_CLEAR - 1) + [True]
    assert state.current is None
