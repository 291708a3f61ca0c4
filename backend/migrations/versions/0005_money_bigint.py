"""money and points columns are 64-bit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 22:30:00

PostgreSQL's INTEGER stops at 2,147,483,647: about 215 million toman, less than one
member's spend over a few years at a jeweller's, and a product of two amounts (a
pro-rata refund) overflows long before that. SQLite's INTEGER is 64-bit already, so only
PostgreSQL changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

COLUMNS = {
    'club': ['point_value_rials', 'referral_join_bonus_rials',
             'referral_first_purchase_bonus_rials', 'max_transfer_rials',
             'max_transfer_per_day_rials', 'welcome_credit_rials'],
    'offer': ['min_amount_rials'],
    'product': ['price_rials', 'extra_credit_per_unit_rials'],
    'tier': ['point_step_rials', 'min_spend_rials', 'max_credit_per_invoice_rials',
             'max_credit_per_day_rials'],
    'member': ['credit_balance_rials', 'points_balance', 'total_spend_rials'],
    'credit_grant': ['amount_rials'],
    'payment_instrument': ['amount_rials'],
    'credit_lot': ['amount_rials', 'remaining_rials'],
    'credit_transfer': ['amount_rials'],
    'ledger_entry': ['amount'],
    'purchase': ['amount_rials', 'discount_rials', 'credit_used_rials', 'payable_rials',
                 'credit_earned_rials', 'points_earned', 'commission_rials',
                 'refunded_amount_rials'],
    'credit_allocation': ['amount_rials'],
    'offer_redemption': ['discount_rials', 'points', 'credit_rials'],
    'purchase_item': ['unit_price_rials'],
    'refund': ['amount_rials', 'cash_refund_rials', 'credit_returned_rials',
               'credit_taken_rials', 'points_taken', 'commission_taken_rials',
               'shortfall_rials'],
}


def _alter(to_type, from_type):
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=to_type, existing_type=from_type)


def upgrade():
    _alter(sa.BigInteger(), sa.Integer())


def downgrade():
    _alter(sa.Integer(), sa.BigInteger())
