"""The migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

import models
from models import Member, MemberCategory, MembershipKind, Org, OrgKind, OrgMembership
from models.db import make_engine, make_session_factory
from models.migrate import (
    SCRIPT_LOCATION,
    current_revision_async,
    downgrade_async,
    heads,
    new_revision,
    upgrade,
    upgrade_async,
)


def _schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, models.Base.metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrading_an_empty_database_gives_exactly_the_models_schema(db_url: str) -> None:
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_differences) == []
            tables = await conn.run_sync(_table_names)
    finally:
        await engine.dispose()
    assert set(models.Base.metadata.tables) <= tables
    assert await current_revision_async(db_url) == heads()[0]


async def test_downgrading_to_base_removes_every_table_and_upgrading_again_works(
    db_url: str,
) -> None:
    await upgrade_async(db_url)
    await downgrade_async(db_url, "base")
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_table_names) <= {"alembic_version"}
    finally:
        await engine.dispose()
    assert await current_revision_async(db_url) is None
    await upgrade_async(db_url)
    assert await current_revision_async(db_url) == heads()[0]


FAILING_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0999_fails"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    with op.batch_alter_table("member") as batch_op:
        batch_op.add_column(sa.Column("half_done_note", sa.String(20)))
    op.execute("INSERT INTO half_done (id) VALUES (1)")
    op.execute("INSERT INTO half_done (id) VALUES (1)")  # duplicate key: the revision fails


def downgrade() -> None:
    pass
"""


async def test_a_revision_that_fails_leaves_the_database_as_it_was(
    db_url: str, tmp_path: Path
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0999_fails.py").write_text(
        FAILING_REVISION.format(head=heads()[0]), encoding="utf-8"
    )
    await upgrade_async(db_url)
    with pytest.raises(IntegrityError):
        await upgrade_async(db_url, script_location=scripts)
    assert await current_revision_async(db_url) == heads()[0]
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert "half_done" not in await conn.run_sync(_table_names)
            assert await conn.run_sync(_schema_differences) == []
    finally:
        await engine.dispose()


REBUILDING_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0999_rebuild"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("nickname", sa.String(20)))


def downgrade() -> None:
    with op.batch_alter_table("member", recreate="always") as batch_op:
        batch_op.drop_column("nickname")
"""


async def test_rebuilding_a_table_on_sqlite_keeps_the_rows_that_refer_to_it(
    tmp_path: Path,
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0999_rebuild.py").write_text(
        REBUILDING_REVISION.format(head=heads()[0]), encoding="utf-8"
    )
    url = f"sqlite+aiosqlite:///{tmp_path}/rebuild.sqlite3"
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            org = Org(name="一连党支部", kind=OrgKind.BRANCH, path="/1/")
            member = Member(name="王强", category=MemberCategory.FULL)
            member.memberships.append(
                OrgMembership(org=org, kind=MembershipKind.HOME, valid_from=dt.datetime(2020, 1, 1))
            )
            session.add(member)
        await upgrade_async(url, script_location=scripts)  # drops and recreates "member"
        async with engine.connect() as conn:
            rows = await conn.exec_driver_sql("SELECT count(*) FROM org_membership")
            assert rows.scalar() == 1
    finally:
        await engine.dispose()


def test_the_revisions_form_one_line_with_a_single_head() -> None:
    assert len(heads()) == 1, "several heads: merge them (see docs/development.md)"


def test_the_synchronous_upgrade_works_outside_an_event_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/sync.sqlite3"
    upgrade(url)
    upgrade(url)  # a second run finds nothing to do
    assert (tmp_path / "sync.sqlite3").stat().st_size > 0


def test_a_new_revision_against_unchanged_models_has_no_operations(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    path = new_revision("Nothing new", script_location=scripts)
    assert path.name == f"{len(list((scripts / 'versions').glob('0*.py'))):04d}_nothing_new.py"
    body = path.read_text(encoding="utf-8")
    assert "op.create_table" not in body and "batch_op" not in body
    assert f"down_revision: str | Sequence[str] | None = {heads()[0]!r}" in body
    assert heads(script_location=scripts) == [path.stem]


@pytest.mark.parametrize("message", ["", "!!!"])
def test_a_revision_message_without_letters_gets_a_generic_slug(
    message: str, tmp_path: Path
) -> None:
    from models.migrate import next_revision_id

    assert next_revision_id(message).endswith("_revision")


def test_revision_ids_fit_alembic_s_version_column_of_32_characters() -> None:
    from models.migrate import next_revision_id

    long_id = next_revision_id("notifications and roll-call codes for every site terminal")
    assert len(long_id) <= 32
    versions = Path(__file__).resolve().parents[2] / "models" / "migrations" / "versions"
    stored = [p.stem for p in versions.glob("0*.py")]
    assert stored and all(len(rev) <= 32 for rev in stored), stored
