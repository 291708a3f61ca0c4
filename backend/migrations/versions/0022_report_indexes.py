"""report indexes: the (member, time) index of purchases covers what the cohort report,
the offer comparison and the purchase path's tier window read (issue 19)

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-02 00:00:00

ix_purchase_member_created (member_id, created_at) becomes ix_purchase_member_report
(member_id, created_at, amount_rials, refunded_amount_rials, payable_rials, branch_id):
the same prefix, so every query that used the old index uses this one, and the columns
those queries filter and sum on are in the index, so neither the cohort report (a
member's purchases of the last months) nor a purchase's tier window total reads the
table. One index replaces the other: a purchase still writes one (member, time) entry.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_purchase_member_report', 'purchase',
                    ['member_id', 'created_at', 'amount_rials', 'refunded_amount_rials',
                     'payable_rials', 'branch_id'], unique=False)
    op.drop_index('ix_purchase_member_created', table_name='purchase')


def downgrade():
    op.create_index('ix_purchase_member_created', 'purchase', ['member_id', 'created_at'],
                    unique=False)
    op.drop_index('ix_purchase_member_report', table_name='purchase')
