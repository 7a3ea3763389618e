"""Expected snapshots, derived records and make-up assignments in the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update

from models import Meeting, MeetingStatus, MemberCategory, MembershipKind, OrgMembership
from models.attendance.derive import rederive_meeting
from models.attendance.enums import (
    AttendanceStatus,
    AttendeeRole,
    EventKind,
    LeaveStatus,
    MakeupStatus,
)
from models.attendance.expected import snapshot_expected
from models.attendance.leave import decide_leave, request_leave
from models.attendance.ledger import NewEvent, append_event
from models.attendance.makeup import (
    end_meeting,
    mark_overdue_makeups,
    open_makeups,
    record_replay_progress,
)
from models.attendance.tables import (
    AttendanceRecord,
    AttendanceTally,
    ExpectedAttendee,
    MakeupAssignment,
    MemberMonthTally,
)
from models.attendance.tally import rebuild_tallies
from tests.models.attendance.conftest import START, World, at


async def test_the_snapshot_covers_the_subtree_by_memberships_valid_at_the_start(
    world: World,
) -> None:
    async with world.sessions() as session, session.begin():
        m = world.member
        await m(session, "full_a", "branch_a")
        await m(session, "probationary_b", "branch_b", MemberCategory.PROBATIONARY)
        await m(session, "activist", "branch_a", MemberCategory.ACTIVIST)
        await m(session, "candidate", "branch_b", MemberCategory.CANDIDATE)
        await m(session, "applicant", "branch_a", MemberCategory.APPLICANT)
        await m(session, "ill", "branch_a", exempt=True)
        await m(session, "moved_away", "branch_a", valid_to=START - dt.timedelta(days=1))
        await m(session, "arrives_later", "branch_a", valid_from=START + dt.timedelta(days=1))
        await m(session, "other_committee", "branch_x")
        trainee = await m(session, "trainee", "branch_x")
        session.add(
            OrgMembership(
                member_id=trainee.id,
                org_id=world.orgs["temporary"].id,
                kind=MembershipKind.TEMPORARY,
                valid_from=START - dt.timedelta(days=10),
                valid_to=START + dt.timedelta(days=10),
            )
        )
        meeting = await world.meeting(session, ["committee"])
        snapshot = await snapshot_expected(session, meeting.id)
    names = {v.id: k for k, v in world.members.items()}
    got = {names[e.member_id]: (e.role, e.org_id) for e in snapshot}
    orgs = world.orgs
    assert got == {
        "full_a": (AttendeeRole.EXPECTED, orgs["branch_a"].id),
        "probationary_b": (AttendeeRole.EXPECTED, orgs["branch_b"].id),
        "activist": (AttendeeRole.OBSERVER, orgs["branch_a"].id),
        "candidate": (AttendeeRole.OBSERVER, orgs["branch_b"].id),
        "ill": (AttendeeRole.EXEMPT, orgs["branch_a"].id),
        "trainee": (AttendeeRole.EXPECTED, orgs["temporary"].id),
    }


async def test_a_temporary_branch_meeting_expects_its_members_not_their_home_branch(
    world: World,
) -> None:
    async with world.sessions() as session, session.begin():
        await world.member(session, "stays_home", "branch_a")
        trainee = await world.member(session, "trainee", "branch_a")
        session.add(
            OrgMembership(
                member_id=trainee.id,
                org_id=world.orgs["temporary"].id,
                kind=MembershipKind.TEMPORARY,
                valid_from=START - dt.timedelta(days=1),
            )
        )
        meeting = await world.meeting(session, ["temporary"])
        snapshot = await snapshot_expected(session, meeting.id)
    assert [(e.member_id, e.org_id) for e in snapshot] == [(trainee.id, world.orgs["temporary"].id)]


async def test_the_snapshot_is_taken_once(world: World) -> None:
    async with world.sessions() as session, session.begin():
        first = await world.member(session, "first", "branch_a")
        meeting = await world.meeting(session, ["branch_a"])
        await snapshot_expected(session, meeting.id)
        await world.member(session, "joined_after", "branch_a")
        again = await snapshot_expected(session, meeting.id)
    assert [e.member_id for e in again] == [first.id]


async def _scenario(world: World) -> int:
    """Four members of branch A and an observer; the lecture happens at room A."""
    async with world.sessions() as session, session.begin():
        for key in ("own_device", "at_site_1", "at_site_2", "absent"):
            await world.member(session, key, "branch_a")
        await world.member(session, "observer", "branch_a", MemberCategory.ACTIVIST)
        meeting = await world.meeting(session, ["branch_a"], ("room_a",))
        mid, ids, room = (
            meeting.id,
            {k: v.id for k, v in world.members.items()},
            world.sites["room_a"].id,
        )
        events = [
            NewEvent(
                "1", mid, EventKind.LIVE_JOIN, at(-2), member_id=ids["own_device"], device="phone"
            ),
            NewEvent(
                "2", mid, EventKind.LIVE_LEAVE, at(61), member_id=ids["own_device"], device="phone"
            ),
            NewEvent("3", mid, EventKind.SITE_JOIN, at(-5), site_id=room, device="terminal"),
            NewEvent(
                "4", mid, EventKind.SITE_CHECK_IN, at(1), member_id=ids["at_site_1"], site_id=room
            ),
            NewEvent(
                "5", mid, EventKind.SITE_CHECK_IN, at(12), member_id=ids["at_site_2"], site_id=room
            ),
            NewEvent("6", mid, EventKind.SITE_LEAVE, at(60), site_id=room, device="terminal"),
            NewEvent(
                "7", mid, EventKind.LIVE_JOIN, at(0), member_id=ids["observer"], device="phone"
            ),
            NewEvent(
                "8", mid, EventKind.LIVE_LEAVE, at(20), member_id=ids["observer"], device="phone"
            ),
        ]
        for event in events:
            await append_event(session, event)
    return mid


def _comparable(records: list[AttendanceRecord]) -> list[tuple[object, ...]]:
    return [
        (
            r.member_id,
            r.role,
            r.status,
            r.live_status,
            r.late,
            r.left_early,
            r.live_seconds,
            r.site_id,
            r.replay_coverage,
            r.credited_hours,
            r.credited_as,
            r.credited_on,
            r.meeting_on,
        )
        for r in records
    ]


async def test_rederiving_gives_the_same_records_as_a_fresh_derivation(world: World) -> None:
    mid = await _scenario(world)
    async with world.sessions() as session, session.begin():
        first = _comparable(await rederive_meeting(session, mid))
        again = _comparable(await rederive_meeting(session, mid))
    async with world.sessions() as session, session.begin():
        await session.execute(delete(AttendanceRecord))
        fresh = _comparable(await rederive_meeting(session, mid))
        stored = _comparable(
            list(
                await session.scalars(select(AttendanceRecord).order_by(AttendanceRecord.member_id))
            )
        )
    assert first == again == fresh == stored
    ids = world.members
    statuses = {r[0]: r[2] for r in fresh}
    assert statuses == {
        ids["own_device"].id: AttendanceStatus.PRESENT,
        ids["at_site_1"].id: AttendanceStatus.PRESENT,
        ids["at_site_2"].id: AttendanceStatus.LATE,
        ids["absent"].id: AttendanceStatus.ABSENT,
        ids["observer"].id: AttendanceStatus.ABSENT,
    }


async def test_an_absent_member_gets_a_make_up_that_the_replay_completes(world: World) -> None:
    mid = await _scenario(world)
    absent = world.members["absent"].id
    async with world.sessions() as session, session.begin():
        await end_meeting(session, mid)
        await end_meeting(session, mid)
        views = await open_makeups(session)
    assert [(v.member_id, v.status) for v in views] == [(absent, MakeupStatus.PENDING)]
    assert views[0].deadline == at(60) + dt.timedelta(days=30)
    async with world.sessions() as session, session.begin():
        for i, ranges in enumerate(([[0, 1800]], [[1800, 3300]])):
            await append_event(
                session,
                NewEvent(
                    f"w{i}",
                    mid,
                    EventKind.REPLAY_COVERAGE,
                    at(60 * 24 * (i + 2)),
                    member_id=absent,
                    source="replay",
                    payload={"duration": 3600, "ranges": ranges},
                ),
            )
            record = await record_replay_progress(session, mid, absent)
        done = await session.scalar(select(MakeupAssignment))
    assert record is not None and record.status is AttendanceStatus.MADE_UP
    assert done is not None and done.status is MakeupStatus.DONE
    assert done.done_at is not None and done.done_at.replace(tzinfo=None) == at(
        60 * 24 * 3
    ).replace(tzinfo=None)


async def test_a_make_up_not_done_by_the_deadline_is_marked_overdue(world: World) -> None:
    mid = await _scenario(world)
    async with world.sessions() as session, session.begin():
        await end_meeting(session, mid)
        assert await mark_overdue_makeups(session, at(60) + dt.timedelta(days=29)) == 0
        assert await mark_overdue_makeups(session, at(60) + dt.timedelta(days=30, minutes=1)) == 1
        views = await open_makeups(session)
    assert [v.status for v in views] == [MakeupStatus.OVERDUE]


async def test_a_meeting_that_was_not_recorded_assigns_no_make_ups(world: World) -> None:
    mid = await _scenario(world)
    async with world.sessions() as session, session.begin():
        await session.execute(update(Meeting).where(Meeting.id == mid).values(record=False))
        await end_meeting(session, mid)
        assert await open_makeups(session) == []


async def test_a_meeting_not_yet_started_derives_nothing(world: World) -> None:
    async with world.sessions() as session, session.begin():
        await world.member(session, "early", "branch_a")
        meeting = await world.meeting(session, ["branch_a"], status=MeetingStatus.SCHEDULED)
        assert await rederive_meeting(session, meeting.id) == []


async def _tallies(world: World) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    async with world.sessions() as session:
        meeting_rows = (
            await session.execute(
                select(AttendanceTally).order_by(AttendanceTally.meeting_id, AttendanceTally.org_id)
            )
        ).scalars()
        member_rows = (
            await session.execute(
                select(MemberMonthTally).order_by(
                    MemberMonthTally.member_id, MemberMonthTally.month
                )
            )
        ).scalars()
        fields = (
            "expected",
            "present",
            "late",
            "excused",
            "absent",
            "made_up",
            "unexcused",
            "observers",
            "hours",
        )
        return (
            [
                (t.meeting_id, t.org_id, t.meeting_on, *(getattr(t, f) for f in fields))
                for t in meeting_rows
            ],
            [
                (t.member_id, t.org_id, t.month, *(getattr(t, f) for f in fields))
                for t in member_rows
            ],
        )


async def test_tallies_kept_with_the_records_equal_tallies_rebuilt_from_scratch(
    world: World,
) -> None:
    mid = await _scenario(world)
    absent = world.members["absent"].id
    async with world.sessions() as session, session.begin():
        await end_meeting(session, mid)
        await append_event(
            session,
            NewEvent(
                "w",
                mid,
                EventKind.REPLAY_COVERAGE,
                at(600),
                member_id=absent,
                payload={"duration": 3600, "credited": 3500},
            ),
        )
        await record_replay_progress(session, mid, absent)
    kept = await _tallies(world)
    async with world.sessions() as session, session.begin():
        await rebuild_tallies(session)
    rebuilt = await _tallies(world)
    assert kept == rebuilt
    meetings, members = kept
    assert [m[3:9] for m in meetings] == [(4, 3, 1, 0, 0, 1)]
    assert (absent, world.orgs["branch_a"].id, dt.date(2026, 3, 1)) in [m[:3] for m in members]


async def test_a_leave_approved_by_the_secretary_before_the_start_excuses(world: World) -> None:
    async with world.sessions() as session, session.begin():
        asks = await world.member(session, "asks", "branch_a")
        refused = await world.member(session, "refused", "branch_a")
        secretary = await world.member(session, "secretary", "branch_a", secretary=True)
        meeting = await world.meeting(session, ["branch_a"])
        first = await request_leave(session, meeting.id, asks.id, "执勤", at(-60 * 24))
        second = await request_leave(session, meeting.id, refused.id, "探亲", at(-60 * 24))
        await decide_leave(session, first, True, secretary.id, at(-60 * 20))
        await decide_leave(session, second, False, secretary.id, at(-60 * 20))
        records = {r.member_id: r.status for r in await rederive_meeting(session, meeting.id)}
    assert (first.status, second.status) == (LeaveStatus.APPROVED, LeaveStatus.REFUSED)
    assert records[asks.id] is AttendanceStatus.EXCUSED
    assert records[refused.id] is AttendanceStatus.ABSENT


async def test_rederiving_writes_only_the_records_that_changed(world: World) -> None:
    mid = await _scenario(world)
    absent = world.members["absent"].id
    async with world.sessions() as session, session.begin():
        first = {
            r.member_id: r.derived_at for r in await rederive_meeting(session, mid, now=at(70))
        }
        again = {
            r.member_id: r.derived_at for r in await rederive_meeting(session, mid, now=at(80))
        }
        await append_event(
            session,
            NewEvent(
                "late-sheet",
                mid,
                EventKind.CORRECTION,
                at(90),
                member_id=absent,
                reason="paper roll-call",
                payload={"corrector": "李", "set_status": "present"},
            ),
        )
        after = {
            r.member_id: (r.derived_at, r.status)
            for r in await rederive_meeting(session, mid, now=at(95))
        }
        tally = await session.scalar(
            select(AttendanceTally.present).where(AttendanceTally.meeting_id == mid)
        )
    assert first == again
    assert after[absent][1] is AttendanceStatus.PRESENT
    assert after[absent][0].replace(tzinfo=None) == at(95).replace(tzinfo=None)
    assert {m: v[0] for m, v in after.items() if m != absent} == {
        m: v for m, v in first.items() if m != absent
    }
    assert tally == 4


async def test_tallies_stay_equal_to_a_rebuild_when_a_meeting_moves_month_then_loses_a_member(
    world: World,
) -> None:
    mid = await _scenario(world)
    observer = world.members["observer"].id
    async with world.sessions() as session, session.begin():
        await end_meeting(session, mid)

    async def rebuilt() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        async with world.sessions() as session, session.begin():
            await rebuild_tallies(session)
        return await _tallies(world)

    async with world.sessions() as session, session.begin():
        await session.execute(
            update(Meeting)
            .where(Meeting.id == mid)
            .values(actual_start=at(60 * 24 * 31), actual_end=at(60 * 24 * 31 + 60))
        )
        await rederive_meeting(session, mid)
    moved = await _tallies(world)
    assert moved == await rebuilt()
    assert {m[2] for m in moved[1]} == {dt.date(2026, 4, 1)}  # nothing left in March
    async with world.sessions() as session, session.begin():
        await session.execute(
            delete(ExpectedAttendee).where(
                ExpectedAttendee.meeting_id == mid, ExpectedAttendee.member_id == observer
            )
        )
        records = await rederive_meeting(session, mid)
    kept = await _tallies(world)
    assert kept == await rebuilt()
    assert observer not in [r.member_id for r in records]
    assert observer not in [m[0] for m in kept[1]]
    assert {m[2] for m in kept[0]} == {dt.date(2026, 4, 10)}
