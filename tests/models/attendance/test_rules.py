"""The pure attendance rules: presence, statuses, make-up and credited hours."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from models.attendance.coverage import replay_progress
from models.attendance.credit import study_hours
from models.attendance.enums import AttendanceStatus, AttendeeRole, CreditKind, EventKind
from models.attendance.facts import ExpectedFacts, Fact, MeetingFacts
from models.attendance.intervals import total_seconds
from models.attendance.presence import MeetingEvents, open_streams
from models.attendance.rules import AttendanceRules
from models.attendance.statuses import derive_meeting, derive_record, rates

T0 = dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing
RULES = AttendanceRules()
MEETING = MeetingFacts(
    meeting_id=1, start=T0, end=T0 + dt.timedelta(minutes=60), credited_hours=Decimal(2)
)
ME = ExpectedFacts(member_id=7, role=AttendeeRole.EXPECTED, org_id=3)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def live(kind: EventKind, minutes: float, member: int = 7, device: str = "phone") -> Fact:
    return Fact(kind=kind, occurred_at=at(minutes), member_id=member, device=device)


def site(kind: EventKind, minutes: float, site_id: int = 5, member: int | None = None) -> Fact:
    return Fact(
        kind=kind, occurred_at=at(minutes), member_id=member, site_id=site_id, device="terminal"
    )


def coverage(
    minutes: float, ranges: list[list[float]], duration: float = 3600, member: int = 7
) -> Fact:
    return Fact(
        kind=EventKind.REPLAY_COVERAGE,
        occurred_at=at(minutes),
        member_id=member,
        payload={"duration": duration, "ranges": ranges},
    )


def derive(facts: list[Fact], expected: ExpectedFacts = ME, meeting: MeetingFacts = MEETING):
    return derive_record(expected, meeting, MeetingEvents(facts), RULES)


# ---------------------------------------------------------------- properties

kinds = st.sampled_from(list(EventKind))
facts = st.builds(
    Fact,
    kind=kinds,
    occurred_at=st.integers(min_value=-30 * 60, max_value=100 * 60).map(
        lambda s: T0 + dt.timedelta(seconds=s)
    ),
    member_id=st.sampled_from([7, 8]),
    site_id=st.sampled_from([None, 5, 6]),
    device=st.sampled_from(["phone", "laptop", "terminal"]),
    payload=st.just({}),
)
site_facts = st.builds(
    Fact,
    kind=st.sampled_from([EventKind.SITE_JOIN, EventKind.SITE_LEAVE, EventKind.LIVE_HEARTBEAT]),
    occurred_at=st.integers(min_value=-30 * 60, max_value=100 * 60).map(
        lambda s: T0 + dt.timedelta(seconds=s)
    ),
    member_id=st.none(),
    site_id=st.sampled_from([5, 6]),
    device=st.just("terminal"),
)
event_lists = st.lists(st.one_of(facts, site_facts), max_size=40)
expected_both = [ME, ExpectedFacts(member_id=8, role=AttendeeRole.OBSERVER, org_id=3)]


@settings(max_examples=100, deadline=None)
@given(event_lists)
def test_the_union_of_presence_never_exceeds_the_meeting(events: list[Fact]) -> None:
    for record in derive_meeting(MEETING, expected_both, events, RULES):
        assert record.live_seconds <= MEETING.duration_seconds
        for start, end in record.intervals:
            assert MEETING.start <= start < end <= MEETING.end
        ends = [iv for iv in record.intervals]
        assert all(a[1] < b[0] for a, b in itertools.pairwise(ends))


@settings(max_examples=100, deadline=None)
@given(event_lists, st.randoms(use_true_random=False))
def test_the_order_of_events_does_not_matter(events: list[Fact], random) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(events)
    random.shuffle(shuffled)
    assert derive_meeting(MEETING, expected_both, events, RULES) == derive_meeting(
        MEETING, expected_both, shuffled, RULES
    )


@settings(max_examples=100, deadline=None)
@given(event_lists, st.data())
def test_duplicate_events_do_not_matter(events: list[Fact], data: st.DataObject) -> None:
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=20)) if events else []
    assert derive_meeting(MEETING, expected_both, events, RULES) == derive_meeting(
        MEETING, expected_both, events + repeats, RULES
    )


ranges = st.lists(
    st.tuples(st.floats(-100, 4000), st.floats(0, 600)).map(lambda t: [t[0], t[0] + t[1]]),
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60 * 24 * 40), ranges), max_size=8), event_lists)
def test_credited_replay_never_goes_beyond_coverage(
    updates: list[tuple[int, list[list[float]]]], events: list[Fact]
) -> None:
    watch = [coverage(m, r) for m, r in updates]
    record = derive(events + watch)
    assert 0.0 <= record.replay_coverage <= 1.0
    if record.credited_as is CreditKind.REPLAY:
        assert record.replay_coverage >= RULES.makeup_ratio
        assert record.status is AttendanceStatus.MADE_UP
        assert record.made_up_at is not None
        assert record.made_up_at <= RULES.makeup_deadline(MEETING.end)
    assert record.credited_hours in (Decimal(0), MEETING.credited_hours)


# ---------------------------------------------------------------- examples


def test_a_member_present_for_the_whole_meeting_is_present_and_credited_live() -> None:
    record = derive([live(EventKind.LIVE_JOIN, -5), live(EventKind.LIVE_LEAVE, 65)])
    assert record.status is AttendanceStatus.PRESENT
    assert record.live_seconds == 3600
    assert record.first_join == at(-5) and record.last_leave == at(65)
    assert (record.credited_hours, record.credited_as) == (Decimal(2), CreditKind.LIVE)
    assert record.credited_on == dt.date(2026, 3, 10)


def test_a_member_who_joins_eleven_minutes_late_is_late_but_still_present() -> None:
    record = derive([live(EventKind.LIVE_JOIN, 11), live(EventKind.LIVE_LEAVE, 60)])
    assert record.status is AttendanceStatus.LATE
    assert record.late and not record.left_early
    assert record.status.attended and record.credited_as is CreditKind.LIVE


def test_a_member_who_joins_nine_minutes_after_the_start_is_present() -> None:
    assert (
        derive([live(EventKind.LIVE_JOIN, 9), live(EventKind.LIVE_LEAVE, 60)]).status
        is AttendanceStatus.PRESENT
    )


def test_a_member_who_leaves_eleven_minutes_before_the_end_left_early() -> None:
    record = derive([live(EventKind.LIVE_JOIN, 0), live(EventKind.LIVE_LEAVE, 49)])
    assert record.status is AttendanceStatus.LEFT_EARLY and record.left_early


def test_a_member_present_for_less_than_eighty_percent_is_absent() -> None:
    record = derive([live(EventKind.LIVE_JOIN, 0), live(EventKind.LIVE_LEAVE, 47)])
    assert record.status is AttendanceStatus.ABSENT
    assert record.live_seconds == 47 * 60
    assert record.credited_hours == 0 and record.credited_as is None


def test_a_member_whose_leave_was_approved_before_the_start_is_excused() -> None:
    leave = Fact(EventKind.LEAVE_APPROVED, at(-60 * 24), member_id=7)
    assert derive([leave]).status is AttendanceStatus.EXCUSED


def test_a_leave_approved_after_the_start_does_not_excuse() -> None:
    leave = Fact(EventKind.LEAVE_APPROVED, at(5), member_id=7)
    assert derive([leave]).status is AttendanceStatus.ABSENT


def test_a_refusal_after_an_approval_withdraws_the_excuse() -> None:
    events = [
        Fact(EventKind.LEAVE_APPROVED, at(-90), member_id=7),
        Fact(EventKind.LEAVE_REFUSED, at(-30), member_id=7),
    ]
    assert derive(events).status is AttendanceStatus.ABSENT


def test_an_absent_member_who_watches_ninety_percent_before_the_deadline_has_made_up() -> None:
    days = 60 * 24
    events = [coverage(2 * days, [[0, 1800]]), coverage(3 * days, [[1700, 3300]])]
    record = derive(events)
    assert record.status is AttendanceStatus.MADE_UP
    assert record.live_status is AttendanceStatus.ABSENT
    assert record.made_up_at == at(3 * days)
    assert record.replay_coverage == 3300 / 3600
    assert (record.credited_hours, record.credited_as) == (Decimal(2), CreditKind.REPLAY)
    assert record.credited_on == (at(3 * days) + dt.timedelta(hours=8)).date()


def test_watching_the_same_part_twice_does_not_count_twice() -> None:
    events = [coverage(100, [[0, 1800]]), coverage(200, [[0, 1800]]), coverage(300, [[900, 1800]])]
    record = derive(events)
    assert record.replay_coverage == 0.5
    assert record.status is AttendanceStatus.ABSENT


def test_a_make_up_completed_after_the_deadline_does_not_count() -> None:
    record = derive([coverage(60 * 24 * 31 + 61, [[0, 3600]])])
    assert record.status is AttendanceStatus.ABSENT
    assert record.replay_coverage == 1.0 and record.credited_hours == 0


def test_an_excused_member_can_make_up() -> None:
    events = [Fact(EventKind.LEAVE_APPROVED, at(-60), member_id=7), coverage(600, [[0, 3500]])]
    record = derive(events)
    assert (record.live_status, record.status) == (
        AttendanceStatus.EXCUSED,
        AttendanceStatus.MADE_UP,
    )


def test_an_exempt_member_is_exempt_and_not_counted() -> None:
    exempt = ExpectedFacts(member_id=7, role=AttendeeRole.EXEMPT)
    record = derive([], expected=exempt)
    assert record.status is AttendanceStatus.EXEMPT and not record.counted
    assert rates([record]).expected == 0


def test_an_observer_is_shown_but_not_counted_in_the_rates() -> None:
    events = [live(EventKind.LIVE_JOIN, 0, member=8), live(EventKind.LIVE_LEAVE, 60, member=8)]
    records = derive_meeting(MEETING, expected_both, events, RULES)
    observer = next(r for r in records if r.member_id == 8)
    assert observer.status is AttendanceStatus.PRESENT and not observer.counted
    result = rates(records)
    assert (result.expected, result.present, result.attendance_rate) == (1, 0, 0.0)


def test_a_member_checked_in_at_a_site_is_credited_with_the_sites_presence() -> None:
    events = [
        site(EventKind.SITE_JOIN, -10),
        site(EventKind.SITE_CHECK_IN, 3, member=7),
        site(EventKind.SITE_LEAVE, 58),
    ]
    record = derive(events)
    assert record.status is AttendanceStatus.PRESENT
    assert record.site_id == 5
    assert record.live_seconds == 55 * 60


def test_site_presence_ends_at_check_out() -> None:
    events = [
        site(EventKind.SITE_JOIN, 0),
        site(EventKind.SITE_CHECK_IN, 0, member=7),
        site(EventKind.SITE_CHECK_OUT, 30, member=7),
        site(EventKind.SITE_LEAVE, 60),
    ]
    record = derive(events)
    assert record.live_seconds == 30 * 60 and record.status is AttendanceStatus.ABSENT


def test_a_member_checked_in_at_a_site_that_never_joined_gets_no_presence() -> None:
    record = derive([site(EventKind.SITE_CHECK_IN, 0, member=7)])
    assert record.live_seconds == 0 and record.site_id is None


def test_own_device_and_site_presence_are_united_not_summed() -> None:
    events = [
        site(EventKind.SITE_JOIN, 0),
        site(EventKind.SITE_CHECK_IN, 0, member=7),
        site(EventKind.SITE_LEAVE, 40),
        live(EventKind.LIVE_JOIN, 20),
        live(EventKind.LIVE_LEAVE, 60),
        live(EventKind.LIVE_JOIN, 10, device="laptop"),
        live(EventKind.LIVE_LEAVE, 30, device="laptop"),
    ]
    record = derive(events)
    assert record.live_seconds == 3600
    assert record.status is AttendanceStatus.PRESENT


def test_a_reconnect_gap_shorter_than_a_minute_is_merged() -> None:
    events = [
        live(EventKind.LIVE_JOIN, 0),
        live(EventKind.LIVE_LEAVE, 30),
        live(EventKind.LIVE_JOIN, 30.9),
        live(EventKind.LIVE_LEAVE, 60),
    ]
    record = derive(events)
    assert len(record.intervals) == 1 and record.live_seconds == 3600


def test_a_gap_of_a_minute_or_more_is_not_merged() -> None:
    events = [
        live(EventKind.LIVE_JOIN, 0),
        live(EventKind.LIVE_LEAVE, 30),
        live(EventKind.LIVE_JOIN, 31),
        live(EventKind.LIVE_LEAVE, 60),
    ]
    record = derive(events)
    assert len(record.intervals) == 2 and record.live_seconds == 59 * 60


def test_an_interval_without_a_leave_closes_at_the_last_heartbeat() -> None:
    events = [live(EventKind.LIVE_JOIN, 0)] + [
        live(EventKind.LIVE_HEARTBEAT, m / 4) for m in range(1, 4 * 48 + 1)
    ]
    record = derive(events)
    assert record.intervals == ((at(0), at(48)),)
    assert record.status is AttendanceStatus.LEFT_EARLY


def test_after_a_crash_open_streams_are_found_with_their_last_heartbeat() -> None:
    events = [
        live(EventKind.LIVE_JOIN, 0),
        live(EventKind.LIVE_HEARTBEAT, 20),
        live(EventKind.LIVE_HEARTBEAT, 20.25),
        live(EventKind.LIVE_JOIN, 0, member=8),
        live(EventKind.LIVE_LEAVE, 10, member=8),
        site(EventKind.SITE_JOIN, 1),
    ]
    found = {(f.member_id, f.site_id): seen for f, seen in open_streams(events)}
    assert found == {(7, None): at(20.25), (None, 5): at(1)}


def test_a_correction_sets_the_status_with_the_latest_correction_winning() -> None:
    events = [
        Fact(
            EventKind.CORRECTION,
            at(70),
            member_id=7,
            payload={"set_status": "excused", "corrector": "李"},
        ),
        Fact(
            EventKind.CORRECTION,
            at(80),
            member_id=7,
            payload={"set_status": "present", "corrector": "李"},
        ),
    ]
    record = derive(events)
    assert record.status is AttendanceStatus.PRESENT and record.credited_as is CreditKind.LIVE


def test_a_correction_can_add_presence_the_devices_missed() -> None:
    payload = {"add_presence": [at(0).isoformat(), at(60).isoformat()], "corrector": "李"}
    record = derive([Fact(EventKind.CORRECTION, at(70), member_id=7, payload=payload)])
    assert record.live_seconds == 3600 and record.status is AttendanceStatus.PRESENT


def test_credited_seconds_from_the_viewing_side_complete_a_make_up() -> None:
    watched = Fact(
        EventKind.REPLAY_COVERAGE,
        at(300),
        member_id=7,
        payload={"duration": 3600, "credited": 3300},
    )
    record = derive([coverage(100, [[0, 600]]), watched])
    assert record.status is AttendanceStatus.MADE_UP and record.made_up_at == at(300)


def test_replay_progress_is_zero_without_a_known_duration() -> None:
    assert replay_progress([coverage(1, [[0, 100]], duration=0)], 0.9) == (0.0, None)


def test_attendance_and_completion_rates_are_kept_apart() -> None:
    events = [
        live(EventKind.LIVE_JOIN, 0),
        live(EventKind.LIVE_LEAVE, 60),
        coverage(100, [[0, 3600]], member=9),
    ]
    expected = [
        ME,
        ExpectedFacts(9, AttendeeRole.EXPECTED),
        ExpectedFacts(10, AttendeeRole.EXPECTED),
    ]
    result = rates(derive_meeting(MEETING, expected, events, RULES))
    assert (result.expected, result.present, result.made_up) == (3, 1, 1)
    assert result.attendance_rate == 1 / 3 and result.completion_rate == 2 / 3


def test_study_hours_count_one_calendar_year_against_the_leaders_target() -> None:
    credits = [
        (dt.date(2025, 12, 31), Decimal(2), CreditKind.LIVE),
        (dt.date(2026, 1, 1), Decimal(2), CreditKind.LIVE),
        (dt.date(2026, 6, 1), Decimal("1.5"), CreditKind.REPLAY),
    ]
    hours = study_hours(credits, 2026, is_leader=True, rules=RULES)
    assert (hours.live, hours.replay, hours.total, hours.target) == (
        Decimal(2),
        Decimal("1.5"),
        Decimal("3.5"),
        56,
    )
    assert not hours.met
    assert study_hours(
        credits, 2026, is_leader=False, rules=AttendanceRules(yearly_hours=Decimal(3))
    ).met


def test_total_seconds_of_no_intervals_is_zero() -> None:
    assert total_seconds([]) == 0
