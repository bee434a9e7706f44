"""accounts: API keys and email codes

Revision ID: 0002_accounts
Revises: 0001_foundation
Create Date: 2026-12-04 21:35:43.967179
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chatnio_host.db.types

revision = '0002_accounts'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('expires_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('allowed_models', sa.JSON(), nullable=True),
    sa.Column('last_used_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('updated_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_index(op.f('ix_api_keys_user_id'), 'api_keys', ['user_id'], unique=False)

    op.create_table('email_codes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('expires_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('used_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_codes'))
    )
    op.create_index('ix_email_codes_email_purpose', 'email_codes', ['email', 'purpose'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_email_codes_email_purpose', table_name='email_codes')
    op.drop_table('email_codes')
    op.drop_index(op.f('ix_api_keys_user_id'), table_name='api_keys')
    op.drop_table('api_keys')
