"""Active-speaker detection from RFC 6464 audio levels, debounced."""

from __future__ import annotations

from dataclasses import dataclass

from media.publication import Publication

# Loudness is 127 - level (-dBov): silence 0, full scale 127. Speech into a browser
# microphone sits around -20 to -40 dBov; below -60 dBov we call it silence.
SPEAKING_LOUDNESS = 127 - 60
WINS_TO_SWITCH = 2  # evaluations a new speaker must win in a row
SILENT_TO_CLEAR = 4  # evaluations of silence before nobody is the speaker


@dataclass
class SpeakerState:
    current: str | None = None
    candidate: str | None = None
    candidate_wins: int = 0
    silent_rounds: int = 0


def loudest(publications: list[Publication]) -> str | None:
    """The owner of the loudest unmuted microphone since the last call (resets counters)."""
    best_key, best = None, float(SPEAKING_LOUDNESS)
    for publication in publications:
        packets = publication.loud_packets
        average = publication.loudness / packets if packets else 0.0
        publication.loudness = publication.loud_packets = 0
        if not publication.muted and average >= best:
            best_key, best = publication.owner_key, average
    return best_key


def decide(state: SpeakerState, heard: str | None) -> bool:
    """Feed one evaluation; True when `state.current` changed."""
    if heard is None:
        state.candidate, state.candidate_wins = None, 0
        state.silent_rounds += 1
        if state.current is not None and state.silent_rounds >= SILENT_TO_CLEAR:
            state.current = None
            return True
        return False
    state.silent_rounds = 0
    if heard == state.current:
        state.candidate, state.candidate_wins = None, 0
        return False
    if heard == state.candidate:
        state.candidate_wins += 1
    else:
        state.candidate, state.candidate_wins = heard, 1
    if state.current is None or state.candidate_wins >= WINS_TO_SWITCH:
        state.current, state.candidate, state.candidate_wins = heard, None, 0
        return True
    return False
