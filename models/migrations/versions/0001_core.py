"""Core tables: orgs, members and accounts, sites, meetings.

Revision ID: 0001_core
Revises: 
Create Date: 2026-11-29 21:50:54.237886
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001_core'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit_label', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('applied_on', sa.Date(), nullable=True),
    sa.Column('admitted_on', sa.Date(), nullable=True),
    sa.Column('full_member_on', sa.Date(), nullable=True),
    sa.Column('is_secretary', sa.Boolean(), nullable=False),
    sa.Column('is_committee_member', sa.Boolean(), nullable=False),
    sa.Column('exempt', sa.Boolean(), nullable=False),
    sa.Column('exempt_reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member'))
    )
    op.create_table('org',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['org.id'], name=op.f('fk_org_approved_by_id_org')),
    sa.ForeignKeyConstraint(['parent_id'], ['org.id'], name=op.f('fk_org_parent_id_org')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org'))
    )
    with op.batch_alter_table('org', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_path'), ['path'], unique=False)

    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('host_org_id', sa.Integer(), nullable=False),
    sa.Column('planned_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('planned_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actual_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('actual_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('credited_hours', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('record', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('presider_id', sa.Integer(), nullable=True),
    sa.Column('recorder_id', sa.Integer(), nullable=True),
    sa.Column('agenda', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['host_org_id'], ['org.id'], name=op.f('fk_meeting_host_org_id_org')),
    sa.ForeignKeyConstraint(['presider_id'], ['member.id'], name=op.f('fk_meeting_presider_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recorder_id'], ['member.id'], name=op.f('fk_meeting_recorder_id_member'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting'))
    )
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_host_org_id'), ['host_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_planned_start'), ['planned_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_status'), ['status'], unique=False)

    op.create_table('org_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_org_membership_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_org_membership_org_id_org')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_membership'))
    )
    with op.batch_alter_table('org_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_membership_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_membership_org_id'), ['org_id'], unique=False)

    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_site_org_id_org')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site'))
    )
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_org_id'), ['org_id'], unique=False)

    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('scope_org_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_account_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scope_org_id'], ['org.id'], name=op.f('fk_account_scope_org_id_org')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_account_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('member_id', name=op.f('uq_account_member_id')),
    sa.UniqueConstraint('site_id', name=op.f('uq_account_site_id')),
    sa.UniqueConstraint('username', name=op.f('uq_account_username'))
    )
    op.create_table('meeting_audience',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_audience_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_meeting_audience_org_id_org')),
    sa.PrimaryKeyConstraint('meeting_id', 'org_id', name=op.f('pk_meeting_audience'))
    )
    op.create_table('meeting_presenter',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_presenter_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_meeting_presenter_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'member_id', name=op.f('pk_meeting_presenter'))
    )
    op.create_table('meeting_site',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_site_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_meeting_site_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'site_id', name=op.f('pk_meeting_site'))
    )


def downgrade() -> None:
    op.drop_table('meeting_site')
    op.drop_table('meeting_presenter')
    op.drop_table('meeting_audience')
    op.drop_table('account')
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_org_id'))

    op.drop_table('site')
    with op.batch_alter_table('org_membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_membership_org_id'))
        batch_op.drop_index(batch_op.f('ix_org_membership_member_id'))

    op.drop_table('org_membership')
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_status'))
        batch_op.drop_index(batch_op.f('ix_meeting_planned_start'))
        batch_op.drop_index(batch_op.f('ix_meeting_host_org_id'))

    op.drop_table('meeting')
    with op.batch_alter_table('org', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_path'))
        batch_op.drop_index(batch_op.f('ix_org_parent_id'))

    op.drop_table('org')
    op.drop_table('member')
