"""event append-only guard: triggers refuse UPDATE and DELETE on attendance_event; the
reason of a leave decision (leave_request.decision_reason)

The statements are those of ``models.attendance.guard`` (one definition, also used by
``metadata.create_all``). Nothing deletes or updates events legitimately: meetings, members and
sites referred to by events cannot be deleted (the foreign keys have no ON DELETE), and
corrections are new events.

Revision ID: 0004_event_append_only_guard
Revises: 0003_notifications_rollcall
Create Date: 2026-11-30 00:44:17.048559
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.attendance.guard import install_statements, remove_statements


revision: str = '0004_event_append_only_guard'
down_revision: str | Sequence[str] | None = '0003_notifications_rollcall'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leave_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_reason', sa.String(length=200), nullable=True))
    for sql in install_statements(op.get_bind().dialect.name):
        op.execute(sql)


def downgrade() -> None:
    for sql in remove_statements(op.get_bind().dialect.name):
        op.execute(sql)
    with op.batch_alter_table('leave_request', schema=None) as batch_op:
        batch_op.drop_column('decision_reason')
