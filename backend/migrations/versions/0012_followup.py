"""follow-up of messages and reports: a campaign keeps the SMS part price it was sent at

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

AMOUNT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_part_price_rials', AMOUNT, nullable=False,
                                      server_default='0'))
    # Campaigns sent before this revision: the price set now is the best record there is.
    op.execute("UPDATE campaign SET sms_part_price_rials = COALESCE("
               "(SELECT sms_part_price_rials FROM message_settings WHERE id = 1), 0)")


def downgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('sms_part_price_rials')
