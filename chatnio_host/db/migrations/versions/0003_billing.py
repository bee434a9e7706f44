"""billing: balances, ledger, holds, usage records, daily aggregates, subscriptions, codes

Revision ID: 0003_billing
Revises: 0002_accounts
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chatnio_host.db.types

revision = '0003_billing'
down_revision = '0002_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daily_aggregates',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.Column('errors', sa.BigInteger(), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('income', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'scope', 'key', name=op.f('pk_daily_aggregates'))
    )
    op.create_table('balances',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('available', sa.BigInteger(), nullable=False),
    sa.Column('held', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_balances_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_balances'))
    )
    op.create_table('gift_codes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('used_by', sa.Integer(), nullable=True),
    sa.Column('used_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['used_by'], ['users.id'], name=op.f('fk_gift_codes_used_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_gift_codes_code')),
    sa.UniqueConstraint('used_by', 'type', name=op.f('uq_gift_codes_used_by_type'))
    )
    op.create_index(op.f('ix_gift_codes_type'), 'gift_codes', ['type'], unique=False)
    op.create_table('holds',
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=True),
    sa.Column('period_start', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('charged', sa.BigInteger(), nullable=False),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('finished_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_holds_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_holds'))
    )
    op.create_index('ix_holds_state_created_at', 'holds', ['state', 'created_at'], unique=False)
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=128), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ledger_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    op.create_index(op.f('ix_ledger_entries_request_id'), 'ledger_entries', ['request_id'], unique=False)
    op.create_index('ix_ledger_entries_user_id_id', 'ledger_entries', ['user_id', 'id'], unique=False)
    op.create_table('redeem_codes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('used_by', sa.Integer(), nullable=True),
    sa.Column('used_at', chatnio_host.db.types.DateTimeUTC(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['used_by'], ['users.id'], name=op.f('fk_redeem_codes_used_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redeem_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_redeem_codes_code'))
    )
    op.create_index(op.f('ix_redeem_codes_name'), 'redeem_codes', ['name'], unique=False)
    op.create_table('subscription_usage',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('period_start', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscription_usage_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'item_id', name=op.f('pk_subscription_usage'))
    )
    op.create_table('subscriptions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('started_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('expires_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.Column('total_months', sa.Integer(), nullable=False),
    sa.Column('enterprise', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_subscriptions'))
    )
    op.create_table('usage_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('model_sent', sa.String(length=128), nullable=True),
    sa.Column('channel_id', sa.Integer(), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('cached_input_tokens', sa.Integer(), nullable=False),
    sa.Column('cache_write_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('reasoning_tokens', sa.Integer(), nullable=False),
    sa.Column('usage_source', sa.String(length=16), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('subscription', sa.Boolean(), nullable=False),
    sa.Column('cached', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('created_at', chatnio_host.db.types.DateTimeUTC(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_usage_records_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_records')),
    sa.UniqueConstraint('request_id', name=op.f('uq_usage_records_request_id'))
    )
    op.create_index(op.f('ix_usage_records_created_at'), 'usage_records', ['created_at'], unique=False)
    op.create_index('ix_usage_records_user_id_created_at', 'usage_records', ['user_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_usage_records_user_id_created_at', table_name='usage_records')
    op.drop_index(op.f('ix_usage_records_created_at'), table_name='usage_records')
    op.drop_table('usage_records')
    op.drop_table('subscriptions')
    op.drop_table('subscription_usage')
    op.drop_index(op.f('ix_redeem_codes_name'), table_name='redeem_codes')
    op.drop_table('redeem_codes')
    op.drop_index('ix_ledger_entries_user_id_id', table_name='ledger_entries')
    op.drop_index(op.f('ix_ledger_entries_request_id'), table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index('ix_holds_state_created_at', table_name='holds')
    op.drop_table('holds')
    op.drop_index(op.f('ix_gift_codes_type'), table_name='gift_codes')
    op.drop_table('gift_codes')
    op.drop_table('balances')
    op.drop_table('daily_aggregates')
