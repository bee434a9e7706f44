"""files: uploads and their parsed text

Revision ID: 0006_files
Revises: 0005_chat
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import chatnio_host.db.types

revision = '0006_files'
down_revision = '0005_chat'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('files',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=127), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text().with_variant(mysql.LONGTEXT(), 'mysql', 'mariadb'), nullable=False),
    sa.Column('chars', sa.Integer(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('image_base64', sa.Text().with_variant(mysql.LONGTEXT(), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_files_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files'))
    )
    op.create_index(op.f('ix_files_user_id'), 'files', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_files_user_id'), table_name='files')
    op.drop_table('files')
