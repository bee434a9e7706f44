"""foundation: users and site settings

Revision ID: 0001_foundation
Revises: 
Create Date: 2026-12-04 21:26:43.304398
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chatnio_host.db.types

revision = '0001_foundation'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_settings',
    sa.Column('section', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('updated_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.PrimaryKeyConstraint('section', name=op.f('pk_site_settings'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=24), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('banned', sa.Boolean(), nullable=False),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('last_login_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('updated_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )


def downgrade() -> None:
    op.drop_table('users')
    op.drop_table('site_settings')
