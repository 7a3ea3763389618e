"""The database's own guard on the append-only ledger: triggers refuse UPDATE and DELETE on
``attendance_event`` (SQLite and PostgreSQL).

One definition serves both ways a schema comes to exist: revision 0004 runs
:func:`install_statements` / :func:`remove_statements`, and :func:`attach_guard` hangs the same
statements on the table's ``after_create`` / ``after_drop`` events, so ``metadata.create_all``
(the tests, the benchmarks) gets the triggers too.

Deliberately left open: ``TRUNCATE`` on PostgreSQL (no row triggers fire; it needs the table
owner's rights; the application never issues it) and ``DROP TABLE``. On SQLite a batch
migration that rebuilds ``attendance_event`` (copy, drop, rename) loses the triggers: such a
revision must run :func:`install_statements` again (``tests/models/test_event_guard.py``
checks that a migrated database refuses updates).
"""

from __future__ import annotations

from sqlalchemy import DDL, Table, event

TABLE = "attendance_event"
MESSAGE = "attendance_event is append-only; add a correction event instead"
_TRIGGERS = {"UPDATE": f"{TABLE}_no_update", "DELETE": f"{TABLE}_no_delete"}
_PG_FUNCTION = f"{TABLE}_append_only"
DIALECTS = ("sqlite", "postgresql")

# No "%" or ":" + word in the SQL: it passes through DDL() and text(), which read them.
_SQLITE_INSTALL = [
    f"CREATE TRIGGER {name} BEFORE {op} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE} ({op} refused)'); END"
    for op, name in _TRIGGERS.items()
]
_SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {name}" for name in _TRIGGERS.values()]

_PG_INSTALL = [
    f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE} (' || TG_OP || ' refused)', "
    "ERRCODE = 'restrict_violation'; END $$",
    *(
        f"CREATE TRIGGER {name} BEFORE {op} ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()"
        for op, name in _TRIGGERS.items()
    ),
]
_PG_REMOVE = [
    *(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}" for name in _TRIGGERS.values()),
    f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()",
]


def install_statements(dialect: str) -> list[str]:
    """The statements that install the guard on ``attendance_event`` (which must exist)."""
    return list(_PG_INSTALL if dialect == "postgresql" else _SQLITE_INSTALL)


def remove_statements(dialect: str) -> list[str]:
    """The statements that remove the guard again (safe when it is missing)."""
    return list(_PG_REMOVE if dialect == "postgresql" else _SQLITE_REMOVE)


def attach_guard(table: Table) -> None:
    """Install the guard whenever ``metadata.create_all`` creates ``table``."""
    for dialect in DIALECTS:
        for sql in install_statements(dialect):
            event.listen(table, "after_create", DDL(sql).execute_if(dialect=dialect))
    # DROP TABLE takes the triggers with it; the PostgreSQL function stays unless dropped.
    event.listen(
        table,
        "after_drop",
        DDL(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()").execute_if(dialect="postgresql"),
    )
