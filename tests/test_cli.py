"""The ``lecturehub`` command, run as ``main(argv)`` on a temporary data directory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import Account, Member, MembershipKind, Org, OrgKind, Role
from models.accounts import authenticate
from models.db import SessionFactory, make_engine, make_session_factory
from models.demo import DEMO_PASSWORD
from models.migrate import heads
from web.cli import main

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory (not yet created) and no outside configuration."""
    for name in list(os.environ):
        if name.startswith("LECTUREHUB_"):
            monkeypatch.delenv(name)
    path = tmp_path / "var"
    monkeypatch.setenv("LECTUREHUB_DATA_DIR", str(path))
    return path


def query(data_dir: Path, work: Callable[[SessionFactory], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(f"sqlite+aiosqlite:///{data_dir.resolve()}/lecturehub.sqlite3")
        try:
            return await work(make_session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def count_orgs(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Org)) or 0


async def add_branch(sessions: SessionFactory) -> int:
    async with sessions() as session, session.begin():
        org = Org(name="一连党支部", kind=OrgKind.BRANCH)
        session.add(org)
        await session.flush()
        org.assign_path(None)
        return org.id


def test_db_upgrade_creates_the_data_directory_and_migrates_to_the_head(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert (data_dir / "lecturehub.sqlite3").exists()
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"revision {heads()[0]}")


def test_db_downgrade_to_base_leaves_no_revision(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "downgrade", "base"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("revision (none)")


def test_demo_if_empty_loads_once_and_then_leaves_the_database_alone(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--if-empty"]) == 0
    out = capsys.readouterr().out
    assert "400 members" in out and "admin" in out and DEMO_PASSWORD in out
    orgs = query(data_dir, count_orgs)
    assert orgs > 0
    assert main(["demo", "--if-empty"]) == 0
    assert "not loaded" in capsys.readouterr().out
    assert main(["demo"]) == 1
    assert "already has organisations" in capsys.readouterr().err
    assert query(data_dir, count_orgs) == orgs


def test_create_user_makes_a_member_of_the_org_who_can_log_in(data_dir: Path) -> None:
    assert main(["db", "upgrade"]) == 0
    org_id = query(data_dir, add_branch)
    argv = ["create-user", "--username", "zhangsan", "--password", "s3cret-pass"]
    assert main([*argv, "--role", "secretary", "--org", str(org_id), "--name", "张三"]) == 0

    async def check(sessions: SessionFactory) -> None:
        async with sessions() as session:
            account = await authenticate(session, "zhangsan", "s3cret-pass")
            assert account is not None and account.role is Role.SECRETARY
            assert account.scope_org_id == org_id
            member = await session.scalar(
                select(Member)
                .where(Member.id == account.member_id)
                .options(selectinload(Member.memberships))
            )
            assert member is not None and member.name == "张三"
            assert [(m.org_id, m.kind) for m in member.memberships] == [
                (org_id, MembershipKind.HOME)
            ]

    query(data_dir, check)


def test_create_user_gives_an_existing_member_a_login_only_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    base = ["create-user", "--password", "long-enough-1", "--role", "member"]
    assert main([*base, "--username", "first", "--name", "李四"]) == 0

    async def member_id(sessions: SessionFactory) -> int | None:
        async with sessions() as session:
            return await session.scalar(select(Member.id).where(Member.name == "李四"))

    existing = query(data_dir, member_id)
    assert existing is not None
    capsys.readouterr()
    assert main([*base, "--username", "second", "--member-id", str(existing)]) == 1
    assert "already has a login" in capsys.readouterr().err
    assert main([*base, "--username", "third", "--member-id", "9999"]) == 1
    assert "no member with id 9999" in capsys.readouterr().err
    argv = [*base, "--username", "fourth", "--member-id", str(existing), "--org", "1"]
    assert main(argv) == 1
    assert "--org with --member-id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--username", "taken", "--password", "long-enough-2"], "is taken"),
        (["--username", "newone", "--password", "short"], "too short"),
        (["--username", "newone", "--password", ""], "empty"),
        (["--username", "newone12", "--password", "NEWONE12"], "differ from the username"),
        (["--username", "newone", "--password", "NewOne-NewOne"], None),
        (["--username", "a b", "--password", "long-enough-2"], "username"),
        (["--username", "newone", "--password", "long-enough-2", "--org", "9999"], "no organ"),
    ],
    ids=["taken", "short", "empty", "same-as-username", "good", "bad-username", "unknown-org"],
)
def test_create_user_refuses_bad_input_with_a_message_and_status_1(
    data_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str | None
) -> None:
    assert main(["db", "upgrade"]) == 0
    if message == "is taken":
        argv = ["create-user", "--username", "taken", "--password", "xyz-12345", "--role", "member"]
        assert main(argv) == 0
    capsys.readouterr()
    status = main(["create-user", "--role", "member", *extra])
    if message is None:  # the control case: a good password is accepted
        assert status == 0
        return
    assert status == 1
    assert message in capsys.readouterr().err

    async def accounts(sessions: SessionFactory) -> int:
        async with sessions() as session:
            return await session.scalar(select(func.count()).select_from(Account)) or 0

    assert query(data_dir, accounts) == (1 if message == "is taken" else 0)


def test_a_secretary_needs_an_org_and_roles_are_checked(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["create-user", "--username", "sec", "--password", "long-enough-3"]
    assert main([*argv, "--role", "secretary"]) == 1
    assert "--org" in capsys.readouterr().err
    assert main([*argv, "--role", "boss"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_create_user_on_a_database_never_migrated_says_to_run_db_upgrade(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["create-user", "--username", "early", "--password", "long-enough-4"]
    assert main([*argv, "--role", "organiser"]) == 1
    assert "lecturehub db upgrade" in capsys.readouterr().err


def test_a_bad_setting_is_a_configuration_error_with_status_2(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LECTUREHUB_SERVER_PORT", "eighty")
    assert main(["db", "upgrade"]) == 2
    assert "server.port" in capsys.readouterr().err


def test_serve_migrates_keeps_a_secret_key_and_prints_the_demo_logins(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    capsys.readouterr()
    seen: dict[str, Any] = {}

    def create_app(config: Any) -> web.Application:
        seen["config"] = config
        return web.Application()

    def run_app(app: web.Application, **kwargs: Any) -> None:
        seen["app"], seen["run"] = app, kwargs

    fake = types.ModuleType("web.app")
    fake.create_app = create_app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "web.app", fake)
    monkeypatch.setattr(web, "run_app", run_app)

    assert main(["serve", "--host", "127.0.0.2", "--port", "8181"]) == 0
    assert seen["run"]["host"] == "127.0.0.2" and seen["run"]["port"] == 8181
    assert seen["config"].server.port == 8181
    assert (data_dir / "secret_key").stat().st_size >= 32
    out = capsys.readouterr().out
    assert "http://127.0.0.2:8181" in out
    assert "secretary" in out and DEMO_PASSWORD in out


def test_serve_without_demo_data_prints_no_demo_logins(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = types.ModuleType("web.app")
    fake.create_app = lambda config: web.Application()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "web.app", fake)
    monkeypatch.setattr(web, "run_app", lambda app, **kwargs: None)
    assert main(["serve"]) == 0
    assert (data_dir / "lecturehub.sqlite3").exists()
    assert DEMO_PASSWORD not in capsys.readouterr().out


def test_the_module_runs_as_a_command_in_its_own_process(data_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "web.cli", *argv],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    shown = run("--help")
    assert shown.returncode == 0
    assert all(word in shown.stdout for word in ("serve", "db", "demo", "create-user"))
    upgraded = run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert heads()[0] in upgraded.stdout
    assert (data_dir / "lecturehub.sqlite3").exists()
    assert run("no-such-command").returncode == 2
