"""The ``lecturehub`` command: serve the hub, migrate the database, load demo data, add users.

Each subcommand is one small function in :data:`COMMANDS`. ``main(argv)`` returns the exit
status: 0 done, 1 the command failed (the message says why), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import getpass
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TextIO, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Account,
    Member,
    MemberCategory,
    MembershipKind,
    Org,
    OrgMembership,
    Role,
    migrate,
)
from models.accounts import hash_password
from models.db import SessionFactory, make_engine, make_session_factory
from models.demo import DEMO_LOGINS, DEMO_PASSWORD, demo_logins_work, is_empty, load_demo
from web.config import Config, ConfigError, ensure_secret_key, load_config

T = TypeVar("T")
Handler = Callable[[argparse.Namespace, Config], int]

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,63}")
MIN_PASSWORD_LENGTH = 8
USER_ROLES = {"member": Role.MEMBER, "secretary": Role.SECRETARY, "organiser": Role.ORGANISER}


class CommandError(Exception):
    """The command cannot do what was asked; the message tells the user why."""


def say(message: str) -> None:
    print(message, flush=True)


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def _with_sessions(config: Config, work: Callable[[SessionFactory], Awaitable[T]]) -> T:
    engine = make_engine(config.database_url, echo=config.database.echo)
    try:
        return await work(make_session_factory(engine))
    finally:
        await engine.dispose()


def run_db(config: Config, work: Callable[[SessionFactory], Awaitable[T]]) -> T:
    return asyncio.run(_with_sessions(config, work))


def prepare_database(config: Config) -> None:
    """Create the data directory and migrate the database to the newest revision."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(config.database_url)


def require_migrated(config: Config) -> None:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if asyncio.run(migrate.current_revision_async(config.database_url)) is None:
        raise CommandError("the database is not set up: run `lecturehub db upgrade` first")


def print_demo_logins() -> None:
    say(f"Demo logins (password {DEMO_PASSWORD}):")
    for login in DEMO_LOGINS:
        say(f"  {login.username:<10} {login.role.value:<10} {login.description}")


# --- serve -------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    server = dataclasses.replace(
        config.server,
        host=config.server.host if args.host is None else args.host,
        port=config.server.port if args.port is None else args.port,
    )
    config = dataclasses.replace(config, server=server)
    prepare_database(config)
    ensure_secret_key(config)
    has_demo = run_db(config, _demo_present)

    from aiohttp import web

    from web.app import create_app  # the composition root; imported late to keep the CLI light

    app = create_app(config)
    say(f"lecturehub: serving on http://{server.host}:{server.port}")
    say(f"Log in at {config.public_url}/")
    if has_demo:
        print_demo_logins()
    web.run_app(app, host=server.host, port=server.port, print=None)
    return 0


async def _demo_present(sessions: SessionFactory) -> bool:
    async with sessions() as session:
        return await demo_logins_work(session)


# --- db ----------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(config.database_url, args.revision)
    return _print_current(config)


def cmd_db_downgrade(args: argparse.Namespace, config: Config) -> int:
    migrate.downgrade(config.database_url, args.revision)
    return _print_current(config)


def cmd_db_current(args: argparse.Namespace, config: Config) -> int:
    return _print_current(config)


def _print_current(config: Config) -> int:
    revision = asyncio.run(migrate.current_revision_async(config.database_url))
    say(f"{shown_url(config.database_url)}: revision {revision or '(none)'}")
    return 0


def cmd_db_revision(args: argparse.Namespace, config: Config) -> int:
    path = migrate.new_revision(args.message, autogenerate=not args.empty)
    say(f"wrote {path}: review it before committing")
    return 0


# --- demo --------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    prepare_database(config)
    if not run_db(config, is_empty):
        if args.if_empty:
            say("The database already has organisations: demo data not loaded.")
            return 0
        raise CommandError(
            "the database already has organisations; demo data only goes into an empty "
            "database (use --if-empty to skip quietly)"
        )
    summary = run_db(config, load_demo)
    say(
        f"Demo data loaded: {summary.orgs} organisations, {summary.members} members, "
        f"{summary.sites} sites, {summary.meetings} meetings (one live now)."
    )
    print_demo_logins()
    return 0


# --- create-user -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    role: Role
    org_id: int | None
    name: str | None
    member_id: int | None


def password_problem(password: str, username: str) -> str | None:
    """Why a password may not be used, or None."""
    if not password.strip():
        return "the password is empty"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password is too short (at least {MIN_PASSWORD_LENGTH} characters)"
    if password.lower() == username.lower():
        return "the password must differ from the username"
    return None


def _read_password() -> str:
    if not sys.stdin.isatty():
        raise CommandError("give --password (no terminal to ask for it)")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise CommandError("the passwords do not match")
    return first


def _new_user(args: argparse.Namespace) -> NewUser:
    role = USER_ROLES[args.role]
    if not USERNAME.fullmatch(args.username):
        raise CommandError(
            "the username must be 3-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    password = args.password if args.password is not None else _read_password()
    if problem := password_problem(password, args.username):
        raise CommandError(problem)
    if role is Role.SECRETARY and args.org is None:
        raise CommandError("a secretary needs --org ORG_ID: the organisation they manage")
    if args.member_id is not None and args.name is not None:
        raise CommandError("give either --member-id (existing member) or --name (new member)")
    if args.member_id is not None and args.org is not None and role is not Role.SECRETARY:
        raise CommandError("--org with --member-id only names the organisation a secretary runs")
    return NewUser(args.username, password, role, args.org, args.name, args.member_id)


async def _create_user(sessions: SessionFactory, user: NewUser, password_hash: str) -> str:
    async with sessions() as session, session.begin():
        if await session.scalar(select(Account.id).where(Account.username == user.username)):
            raise CommandError(f"the username {user.username!r} is taken")
        org = None
        if user.org_id is not None:
            org = await session.get(Org, user.org_id)
            if org is None:
                raise CommandError(f"there is no organisation with id {user.org_id}")
        if user.member_id is not None:
            member = await _existing_member(session, user.member_id)
        else:
            member = Member(name=user.name or user.username, category=MemberCategory.FULL)
            if org is not None:
                member.memberships.append(
                    OrgMembership(
                        org=org, kind=MembershipKind.HOME, valid_from=dt.datetime.now(dt.UTC)
                    )
                )
            session.add(member)
        account = Account(
            username=user.username,
            password_hash=password_hash,
            role=user.role,
            scope_org=org if user.role is Role.SECRETARY else None,
            member=member,
        )
        session.add(account)
        await session.flush()
        done = f"created {user.role.value} login {user.username!r} for member #{member.id}"
        done += f" {member.name}"
        if org is not None:
            verb = "managing" if user.role is Role.SECRETARY else "in"
            done += f", {verb} {org.name} (#{org.id})"
        return done


async def _existing_member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise CommandError(f"there is no member with id {member_id}")
    if await session.scalar(select(Account.id).where(Account.member_id == member_id)):
        raise CommandError(f"member #{member_id} {member.name} already has a login")
    return member


def cmd_create_user(args: argparse.Namespace, config: Config) -> int:
    user = _new_user(args)
    require_migrated(config)
    password_hash = hash_password(user.password)

    async def create(sessions: SessionFactory) -> str:
        try:
            return await _create_user(sessions, user, password_hash)
        except IntegrityError as exc:  # a concurrent create-user won the race
            raise CommandError(f"could not create {user.username!r}: {exc.orig}") from exc

    say(run_db(config, create))
    return 0


# --- recordings --------------------------------------------------------------------------


class ProgressBar:
    """One text line with a bar per recording being processed (redrawn in place on a terminal,
    printed at every 10 % step otherwise)."""

    WIDTH = 30

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.percent: dict[int, float] = {}
        self._shown: dict[int, int] = {}
        self._tty = self.out.isatty()

    def line(self) -> str:
        parts = []
        for recording_id, percent in sorted(self.percent.items()):
            filled = int(self.WIDTH * min(percent, 100) / 100)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            parts.append(f"recording {recording_id} [{bar}] {percent:5.1f}%")
        return "  ".join(parts)

    def update(self, recording_id: int, percent: float) -> None:
        self.percent[recording_id] = percent
        step = int(percent // 10)
        if self._tty:
            self.out.write("\r" + self.line())
            self.out.flush()
        elif self._shown.get(recording_id) != step:
            self._shown[recording_id] = step
            print(self.line(), file=self.out, flush=True)

    def finish(self, recording_id: int) -> None:
        self.percent.pop(recording_id, None)
        if self._tty:
            self.out.write("\n")
            self.out.flush()


def cmd_recordings_process(args: argparse.Namespace, config: Config) -> int:
    """Process the queued recordings now (the server's worker does the same in the background).

    Recordings a crash left in ``recording`` are recovered by the server at start-up, not here:
    this command may run next to a live server, whose recordings are in progress."""
    require_migrated(config)
    from recordings.jobs import process_pending
    from web.recording_service import processing_settings

    bar = ProgressBar()

    finished: set[int] = set()

    def progress(recording_id: int, percent: float) -> None:
        if recording_id in finished:
            return
        bar.update(recording_id, percent)
        if percent >= 100:
            finished.add(recording_id)
            bar.finish(recording_id)

    async def work(sessions: SessionFactory) -> int:
        summary = await process_pending(
            sessions, config.data_dir, processing_settings(config.recording), progress
        )
        for recording_id in list(bar.percent):  # a failed job leaves its bar open
            bar.finish(recording_id)
        for recording_id in summary.done:
            say(f"recording {recording_id}: ready")
        for recording_id, reason in summary.failed.items():
            say(f"recording {recording_id}: failed: {reason}")
        if not summary.done and not summary.failed:
            say("no recordings waiting to be processed")
        return 1 if summary.failed else 0

    return run_db(config, work)


# --- the table and the parser ------------------------------------------------------------


def _args_serve(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to listen on (default: server.host)")
    p.add_argument("--port", type=int, help="TCP port to listen on (default: server.port)")


def _args_revision(p: argparse.ArgumentParser) -> None:
    p.add_argument("revision", nargs="?", default="head", help="target revision (default head)")


def _args_downgrade(p: argparse.ArgumentParser) -> None:
    p.add_argument("revision", help="target revision; 'base' removes every table")


def _args_new_revision(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--message", required=True, help="what the revision changes")
    p.add_argument("--empty", action="store_true", help="no autogenerated operations")


def _args_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--if-empty", action="store_true", help="load only into a database without organisations"
    )


def _args_create_user(p: argparse.ArgumentParser) -> None:
    p.add_argument("--username", required=True)
    p.add_argument("--password", help="at least 8 characters (asked for when left out)")
    p.add_argument("--role", required=True, choices=sorted(USER_ROLES))
    p.add_argument(
        "--org",
        type=int,
        metavar="ORG_ID",
        help="the new member's home organisation; for a secretary, the organisation they manage",
    )
    p.add_argument("--name", help="name of the new member (default: the username)")
    p.add_argument("--member-id", type=int, help="give the login to this existing member instead")


@dataclass(frozen=True)
class Command:
    name: str  # "serve", or "db upgrade" for a subcommand of a group
    help: str
    run: Handler
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


COMMANDS: tuple[Command, ...] = (
    Command("serve", "migrate the database and serve the hub", cmd_serve, _args_serve),
    Command("db upgrade", "migrate the database up", cmd_db_upgrade, _args_revision),
    Command("db downgrade", "migrate the database down", cmd_db_downgrade, _args_downgrade),
    Command("db current", "show the database's revision", cmd_db_current),
    Command(
        "db revision",
        "write a new migration revision (autogenerated from the models)",
        cmd_db_revision,
        _args_new_revision,
    ),
    Command("demo", "load the demo brigade into an empty database", cmd_demo, _args_demo),
    Command("create-user", "create a login", cmd_create_user, _args_create_user),
    Command(
        "recordings process",
        "process the queued recordings now, with a progress bar",
        cmd_recordings_process,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lecturehub",
        description="The lecture hub: serve it, migrate its database, load demo data, add logins.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    # Repeated on every subcommand; SUPPRESS keeps a --config given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML file")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for command in COMMANDS:
        group, _, name = command.name.rpartition(" ")
        target = commands
        if group:
            if group not in groups:
                holder = commands.add_parser(group, help=f"{group} commands")
                groups[group] = holder.add_subparsers(dest="subcommand", required=True)
            target = groups[group]
        sub = target.add_parser(name, help=command.help, parents=[common])
        if command.arguments is not None:
            command.arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"lecturehub: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        handler: Handler = args.handler
        return handler(args, config)
    except CommandError as exc:
        print(f"lecturehub: error: {exc}", file=sys.stderr)
        return 1
    except migrate.MigrationError as exc:
        print(f"lecturehub: migration error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
