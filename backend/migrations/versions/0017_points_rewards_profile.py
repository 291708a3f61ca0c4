"""points that expire, the rewards catalogue, weekday and happy-hour offers, the profile
reward (issue 18 items 1, 3 and 5)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 00:00:00

Points already earned get no lot: the ledger counts a member's balance beyond their lots'
remaining points as points that never expire and are spent last, so nothing already
earned starts to expire because of this revision.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

AMOUNT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = sa.DateTime(timezone=True)
CLUB_CHECKS = {'points_min_convert_not_negative': 'points_min_convert >= 0',
               'points_expiry_positive': 'points_expiry_days IS NULL OR points_expiry_days > 0',
               'profile_reward_kind_known': "profile_reward_kind IN ('none', 'credit', 'points')",
               'profile_reward_not_negative': 'profile_reward_value >= 0'}
OFFER_CHECKS = {'from_minute_range': 'from_minute IS NULL OR from_minute BETWEEN 0 AND 1439',
                'until_minute_range': 'until_minute IS NULL OR until_minute BETWEEN 0 AND 1439'}


def upgrade():
    with op.batch_alter_table('club', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_min_convert', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('points_expiry_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('profile_reward_kind', sa.String(length=8),
                                      nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('profile_reward_value', AMOUNT, nullable=False,
                                      server_default='0'))
        for name, condition in CLUB_CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f'ck_club_{name}'), condition)
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weekdays', sa.JSON(), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('from_minute', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('until_minute', sa.Integer(), nullable=True))
        for name, condition in OFFER_CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f'ck_offer_{name}'), condition)
    op.create_table(
        'points_lot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('transaction_id', sa.Integer(), nullable=False),
        sa.Column('amount', AMOUNT, nullable=False),
        sa.Column('remaining', AMOUNT, nullable=False),
        sa.Column('expires_at', UTC, nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_points_lot_amount_positive')),
        sa.CheckConstraint('remaining BETWEEN 0 AND amount',
                           name=op.f('ck_points_lot_remaining_range')),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_points_lot_member_id_member')),
        sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transaction.id'],
                                name=op.f('fk_points_lot_transaction_id_ledger_transaction')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_points_lot')),
    )
    op.create_index('ix_points_lot_member_open', 'points_lot', ['member_id', 'remaining'])
    op.create_table(
        'reward',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('points_cost', AMOUNT, nullable=False),
        sa.Column('value_rials', AMOUNT, nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('valid_days', sa.Integer(), nullable=True),
        sa.Column('stock', sa.Integer(), nullable=True),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.CheckConstraint("kind IN ('product', 'discount', 'gift_card')",
                           name=op.f('ck_reward_kind_known')),
        sa.CheckConstraint('points_cost > 0', name=op.f('ck_reward_points_cost_positive')),
        sa.CheckConstraint('value_rials >= 0', name=op.f('ck_reward_value_not_negative')),
        sa.CheckConstraint('stock IS NULL OR stock >= 0',
                           name=op.f('ck_reward_stock_not_negative')),
        sa.CheckConstraint('valid_days IS NULL OR valid_days > 0',
                           name=op.f('ck_reward_valid_days_positive')),
        sa.ForeignKeyConstraint(['product_id'], ['product.id'],
                                name=op.f('fk_reward_product_id_product')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reward')),
    )
    op.create_table(
        'reward_redemption',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reward_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('ledger_transaction_id', sa.Integer(), nullable=False),
        sa.Column('points', AMOUNT, nullable=False),
        sa.Column('credit_rials', AMOUNT, nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('staff_user_id', sa.Integer(), nullable=True),
        sa.Column('gift_card_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('collected_at', UTC, nullable=True),
        sa.CheckConstraint('points > 0', name=op.f('ck_reward_redemption_points_positive')),
        sa.CheckConstraint("channel IN ('portal', 'counter', 'api')",
                           name=op.f('ck_reward_redemption_channel_known')),
        sa.CheckConstraint("status IN ('done', 'to_collect')",
                           name=op.f('ck_reward_redemption_status_known')),
        sa.ForeignKeyConstraint(['reward_id'], ['reward.id'],
                                name=op.f('fk_reward_redemption_reward_id_reward')),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_reward_redemption_member_id_member')),
        sa.ForeignKeyConstraint(
            ['ledger_transaction_id'], ['ledger_transaction.id'],
            name=op.f('fk_reward_redemption_ledger_transaction_id_ledger_transaction')),
        sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'],
                                name=op.f('fk_reward_redemption_staff_user_id_staff_user')),
        sa.ForeignKeyConstraint(['gift_card_id'], ['card.id'],
                                name=op.f('fk_reward_redemption_gift_card_id_card')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_redemption')),
        sa.UniqueConstraint('ledger_transaction_id',
                            name=op.f('uq_reward_redemption_ledger_transaction_id')),
    )
    op.create_index('ix_reward_redemption_reward_id', 'reward_redemption', ['reward_id'])
    op.create_index('ix_reward_redemption_member_id', 'reward_redemption', ['member_id'])


def downgrade():
    op.drop_index('ix_reward_redemption_member_id', table_name='reward_redemption')
    op.drop_index('ix_reward_redemption_reward_id', table_name='reward_redemption')
    op.drop_table('reward_redemption')
    op.drop_table('reward')
    op.drop_index('ix_points_lot_member_open', table_name='points_lot')
    op.drop_table('points_lot')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        for name in OFFER_CHECKS:
            batch_op.drop_constraint(batch_op.f(f'ck_offer_{name}'), type_='check')
        batch_op.drop_column('until_minute')
        batch_op.drop_column('from_minute')
        batch_op.drop_column('weekdays')
    with op.batch_alter_table('club', schema=None) as batch_op:
        for name in CLUB_CHECKS:
            batch_op.drop_constraint(batch_op.f(f'ck_club_{name}'), type_='check')
        batch_op.drop_column('profile_reward_value')
        batch_op.drop_column('profile_reward_kind')
        batch_op.drop_column('points_expiry_days')
        batch_op.drop_column('points_min_convert')
