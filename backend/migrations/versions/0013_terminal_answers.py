"""terminal answers: every stored answer (refusals too) keeps the digest of its request's
semantic fields, its code, whether it was an offline replay, and its card and amount

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

AMOUNT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    # Nullable: rows answered before this revision have none of these (an old row without
    # a digest is answered from the store as before).
    with op.batch_alter_table('terminal_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('code', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('offline', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('card_number', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('amount_rials', AMOUNT, nullable=True))
    # Before this revision only successes were stored.
    op.execute("UPDATE terminal_request SET code = 'OK'")


def downgrade():
    with op.batch_alter_table('terminal_request', schema=None) as batch_op:
        batch_op.drop_column('amount_rials')
        batch_op.drop_column('card_number')
        batch_op.drop_column('offline')
        batch_op.drop_column('code')
        batch_op.drop_column('digest')
