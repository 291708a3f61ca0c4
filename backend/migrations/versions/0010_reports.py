"""reports: LRFM scores, segment rules and audiences, report indexes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 23:00:00

"""
from alembic import op
import sqlalchemy as sa

import backend.models.base


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SEGMENTS = "('no_purchase', 'new', 'champions', 'loyal', 'potential', 'at_risk', 'lost', 'needs_attention')"
AMOUNT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('member_score',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('computed_on', sa.Date(), nullable=False),
    sa.Column('first_purchase_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_purchase_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('length_days', sa.Integer(), nullable=True),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary_rials', AMOUNT, nullable=False),
    sa.Column('length_score', sa.Integer(), nullable=True),
    sa.Column('recency_score', sa.Integer(), nullable=True),
    sa.Column('frequency_score', sa.Integer(), nullable=True),
    sa.Column('monetary_score', sa.Integer(), nullable=True),
    sa.Column('segment', sa.String(length=24), nullable=False),
    sa.Column('previous_segment', sa.String(length=24), nullable=True),
    sa.CheckConstraint('segment IN ' + SEGMENTS, name=op.f('ck_member_score_segment_known')),
    sa.CheckConstraint('length_score IS NULL OR length_score BETWEEN 1 AND 5', name=op.f('ck_member_score_length_score_range')),
    sa.CheckConstraint('recency_score IS NULL OR recency_score BETWEEN 1 AND 5', name=op.f('ck_member_score_recency_score_range')),
    sa.CheckConstraint('frequency_score IS NULL OR frequency_score BETWEEN 1 AND 5', name=op.f('ck_member_score_frequency_score_range')),
    sa.CheckConstraint('monetary_score IS NULL OR monetary_score BETWEEN 1 AND 5', name=op.f('ck_member_score_monetary_score_range')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_member_score_member_id_member')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_member_score'))
    )
    with op.batch_alter_table('member_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_score_segment'), ['segment'], unique=False)

    op.create_table('segment_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('segment', sa.String(length=24), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('segment IN ' + SEGMENTS, name=op.f('ck_segment_rule_segment_known')),
    sa.CheckConstraint("action IN ('move_tier', 'audience')", name=op.f('ck_segment_rule_action_known')),
    sa.CheckConstraint("action <> 'move_tier' OR tier_id IS NOT NULL", name=op.f('ck_segment_rule_move_has_tier')),
    sa.ForeignKeyConstraint(['tier_id'], ['tier.id'], name=op.f('fk_segment_rule_tier_id_tier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_rule'))
    )
    op.create_table('segment_rule_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('run_on', sa.Date(), nullable=False),
    sa.Column('members_changed', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['segment_rule.id'], name=op.f('fk_segment_rule_run_rule_id_segment_rule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_rule_run')),
    sa.UniqueConstraint('rule_id', 'run_on', name=op.f('uq_segment_rule_run_rule_id_run_on'))
    )
    op.create_table('segment_audience_member',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('added_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_segment_audience_member_member_id_member')),
    sa.ForeignKeyConstraint(['rule_id'], ['segment_rule.id'], name=op.f('fk_segment_audience_member_rule_id_segment_rule')),
    sa.PrimaryKeyConstraint('rule_id', 'member_id', name=op.f('pk_segment_audience_member'))
    )
    op.create_index('ix_purchase_created_at', 'purchase', ['created_at'], unique=False)
    op.create_index('ix_purchase_branch_created', 'purchase', ['branch_id', 'created_at'], unique=False)
    op.create_index('ix_purchase_member_created', 'purchase', ['member_id', 'created_at'], unique=False)
    op.create_index('ix_member_joined_at', 'member', ['joined_at'], unique=False)
    op.create_index('ix_ledger_transaction_created_at', 'ledger_transaction', ['created_at'], unique=False)
    op.create_index('ix_offer_redemption_created_at', 'offer_redemption', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_offer_redemption_created_at', table_name='offer_redemption')
    op.drop_index('ix_ledger_transaction_created_at', table_name='ledger_transaction')
    op.drop_index('ix_member_joined_at', table_name='member')
    op.drop_index('ix_purchase_member_created', table_name='purchase')
    op.drop_index('ix_purchase_branch_created', table_name='purchase')
    op.drop_index('ix_purchase_created_at', table_name='purchase')
    op.drop_table('segment_audience_member')
    op.drop_table('segment_rule_run')
    op.drop_table('segment_rule')
    with op.batch_alter_table('member_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_score_segment'))
    op.drop_table('member_score')
