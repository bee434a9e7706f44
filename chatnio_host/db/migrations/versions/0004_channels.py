"""channels: channels and their keys

Revision ID: 0004_channels
Revises: 0003_billing
Create Date: 2026-12-04 21:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chatnio_host.db.types

revision = '0004_channels'
down_revision = '0003_billing'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channels',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=1024), nullable=False),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('mapping', sa.Text(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('retry', sa.Integer(), nullable=False),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('proxy', sa.String(length=1024), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('last_test_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('last_test_ok', sa.Boolean(), nullable=True),
    sa.Column('last_test_latency_ms', sa.Integer(), nullable=True),
    sa.Column('last_test_message', sa.Text(), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('updated_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels'))
    )
    op.create_table('channel_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('cooldown_until', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('updated_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_keys_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_keys'))
    )
    op.create_index(op.f('ix_channel_keys_channel_id'), 'channel_keys', ['channel_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_channel_keys_channel_id'), table_name='channel_keys')
    op.drop_table('channel_keys')
    op.drop_table('channels')
