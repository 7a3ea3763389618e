"""Reports after the demo lecture: one member live on their own device, two at a site checked
in, one absent who later watched the replay."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from models import MemberCategory
from models.attendance.birthdays import political_birthdays_in
from models.attendance.enums import (
    AttendanceStatus,
    AttendeeRole,
    CreditKind,
    EventKind,
    MakeupStatus,
)
from models.attendance.expected import snapshot_expected
from models.attendance.ledger import NewEvent, append_event
from models.attendance.makeup import end_meeting, record_replay_progress
from models.attendance.meeting_report import meeting_report
from models.attendance.member_report import member_report
from models.attendance.tally import Counts
from models.attendance.unit_report import unit_report
from tests.models.attendance.conftest import World, at

DAY = 60 * 24


async def _demo(world: World) -> int:
    async with world.sessions() as session, session.begin():
        for key in ("live", "site_1", "site_2", "replay"):
            await world.member(session, key, "branch_a", secretary=key == "live")
        await world.member(session, "elsewhere", "branch_b")
        meeting = await world.meeting(session, ["branch_a"], ("room_a",))
        await snapshot_expected(session, meeting.id)
        m, room, mid = (
            {k: v.id for k, v in world.members.items()},
            world.sites["room_a"].id,
            meeting.id,
        )
        for event in [
            NewEvent("a", mid, EventKind.LIVE_JOIN, at(-1), member_id=m["live"], device="phone"),
            NewEvent("b", mid, EventKind.SITE_JOIN, at(-5), site_id=room, device="terminal"),
            NewEvent(
                "c", mid, EventKind.SITE_CHECK_IN, at(0.5), member_id=m["site_1"], site_id=room
            ),
            NewEvent("d", mid, EventKind.SITE_CHECK_IN, at(2), member_id=m["site_2"], site_id=room),
            NewEvent("e", mid, EventKind.LIVE_LEAVE, at(60), member_id=m["live"], device="phone"),
            NewEvent("f", mid, EventKind.SITE_LEAVE, at(61), site_id=room, device="terminal"),
        ]:
            await append_event(session, event)
        await end_meeting(session, mid)
    async with world.sessions() as session, session.begin():
        watched = NewEvent(
            "w",
            mid,
            EventKind.REPLAY_COVERAGE,
            at(3 * DAY),
            member_id=m["replay"],
            source="replay",
            payload={"duration": 3600, "ranges": [[0, 3400]]},
        )
        await append_event(session, watched)
        await record_replay_progress(session, mid, m["replay"])
    return mid


async def test_the_meeting_report_shows_the_roll_and_counts(world: World) -> None:
    mid = await _demo(world)
    async with world.sessions() as session:
        report = await meeting_report(session, mid)
    assert report.counts == Counts(expected=4, present=3, made_up=1, unexcused=1)
    assert (report.counts.attendance_rate, report.counts.completion_rate) == (0.75, 1.0)
    roll = {r.name: (r.status, r.site_name, r.makeup_status, r.credited_hours) for r in report.roll}
    assert roll == {
        "live": (AttendanceStatus.PRESENT, None, None, Decimal("2.00")),
        "site_1": (AttendanceStatus.PRESENT, "room_a", None, Decimal("2.00")),
        "site_2": (AttendanceStatus.PRESENT, "room_a", None, Decimal("2.00")),
        "replay": (AttendanceStatus.MADE_UP, None, MakeupStatus.DONE, Decimal("2.00")),
    }
    live = next(r for r in report.roll if r.name == "live")
    assert (live.first_join, live.last_leave, live.live_seconds) == (at(-1), at(60), 3600)


async def test_the_member_reports_show_live_and_replay_hours_apart(world: World) -> None:
    mid = await _demo(world)
    async with world.sessions() as session:
        live = await member_report(session, world.members["live"].id, 2026)
        replay = await member_report(session, world.members["replay"].id, 2026)
        site = await member_report(session, world.members["site_1"].id, 2026)
        other = await member_report(session, world.members["elsewhere"].id, 2026)
    assert (live.live_hours, live.replay_hours, live.target_hours) == (Decimal(2), 0, Decimal(56))
    assert (replay.live_hours, replay.replay_hours, replay.target_hours) == (
        0,
        Decimal(2),
        Decimal(32),
    )
    assert [(r.meeting_id, r.status, r.credited_as) for r in live.meetings] == [
        (mid, AttendanceStatus.PRESENT, CreditKind.LIVE)
    ]
    row = replay.meetings[0]
    assert (row.status, row.makeup_status, row.credited_as) == (
        AttendanceStatus.MADE_UP,
        MakeupStatus.DONE,
        CreditKind.REPLAY,
    )
    assert row.makeup_deadline == at(60) + dt.timedelta(days=30)
    assert site.meetings[0].site_name == "room_a" and site.meetings[0].role is AttendeeRole.EXPECTED
    march = replay.months[2]
    assert (march.month, march.replay_hours, march.counts.made_up, march.counts.unexcused) == (
        "2026-03",
        Decimal(2),
        1,
        1,
    )
    assert sum(m.live_hours + m.replay_hours for m in replay.months) == 2
    assert other.meetings == [] and other.live_hours == 0
    assert not live.target_met


async def test_the_unit_report_keeps_attendance_and_completion_apart(world: World) -> None:
    mid = await _demo(world)
    async with world.sessions() as session:
        committee = await unit_report(
            session, world.orgs["committee"].id, dt.date(2026, 1, 1), dt.date(2027, 1, 1)
        )
        branch_b = await unit_report(
            session, world.orgs["branch_b"].id, dt.date(2026, 1, 1), dt.date(2027, 1, 1)
        )
        april = await unit_report(
            session, world.orgs["committee"].id, dt.date(2026, 4, 1), dt.date(2026, 5, 1)
        )
    assert committee.counts == Counts(expected=4, present=3, made_up=1, unexcused=1)
    assert (committee.counts.attendance_rate, committee.counts.completion_rate) == (0.75, 1.0)
    assert [(m.meeting_id, m.meeting_on, m.counts.present) for m in committee.meetings] == [
        (mid, dt.date(2026, 3, 10), 3)
    ]
    members = {m.name: (m.counts.present, m.counts.made_up, m.hours) for m in committee.members}
    assert members == {
        "live": (1, 0, Decimal(2)),
        "site_1": (1, 0, Decimal(2)),
        "site_2": (1, 0, Decimal(2)),
        "replay": (0, 1, Decimal(2)),
    }
    assert committee.flagged == []
    assert [(month, c.expected) for month, c in committee.months] == [("2026-03", 4)]
    assert branch_b.counts == Counts() and branch_b.members == []
    assert april.counts == Counts() and april.meetings == []


async def test_the_unit_report_flags_three_unexcused_absences(world: World) -> None:
    async with world.sessions() as session, session.begin():
        await world.member(session, "never", "branch_a")
        await world.member(session, "always", "branch_a")
        ids = []
        for day in range(3):
            start = at(day * DAY * 20)
            meeting = await world.meeting(
                session, ["branch_a"], start=start, end=start + dt.timedelta(hours=1)
            )
            await append_event(
                session,
                NewEvent(
                    f"j{day}",
                    meeting.id,
                    EventKind.LIVE_JOIN,
                    start,
                    member_id=world.members["always"].id,
                    device="pc",
                ),
            )
            await append_event(
                session,
                NewEvent(
                    f"l{day}",
                    meeting.id,
                    EventKind.LIVE_LEAVE,
                    start + dt.timedelta(hours=1),
                    member_id=world.members["always"].id,
                    device="pc",
                ),
            )
            ids.append(meeting.id)
        for mid in ids:
            await end_meeting(session, mid)
    async with world.sessions() as session:
        report = await unit_report(
            session, world.orgs["branch_a"].id, dt.date(2026, 1, 1), dt.date(2026, 6, 1)
        )
    assert [
        (f.name, f.absences_this_year, f.flagged_absences, f.flagged_inactive)
        for f in report.flagged
    ] == [("never", 3, True, True)]


async def test_the_political_birthday_list_covers_the_subtrees_party_members(world: World) -> None:
    async with world.sessions() as session, session.begin():
        await world.member(session, "july_a", "branch_a", admitted_on=dt.date(2011, 7, 1))
        await world.member(
            session,
            "july_b",
            "branch_b",
            MemberCategory.PROBATIONARY,
            admitted_on=dt.date(2025, 7, 20),
        )
        await world.member(session, "august", "branch_a", admitted_on=dt.date(2011, 8, 1))
        await world.member(
            session,
            "activist",
            "branch_a",
            MemberCategory.ACTIVIST,
            admitted_on=dt.date(2011, 7, 2),
        )
        await world.member(session, "elsewhere", "branch_x", admitted_on=dt.date(2011, 7, 3))
    async with world.sessions() as session:
        found = await political_birthdays_in(session, world.orgs["committee"].id, 2026, 7, at(0))
    assert [(b.name, b.admitted_on, b.party_age) for b in found] == [
        ("july_a", dt.date(2011, 7, 1), 15),
        ("july_b", dt.date(2025, 7, 20), 1),
    ]
