"""terminal permissions, limits and refund PIN (issue 17 item 5, issue 15 item 8)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 00:00:00

Every terminal, the existing ones included, starts with top-up OFF (a top-up creates
store credit on the terminal's word alone) and refund on; refunds then need a PIN set
for the terminal or its branch. Branches get a 24-hour refund window. A terminal's
requests are indexed by day, for its daily limits and its page in the panel.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

AMOUNT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
LIMITS = ('topup_max_rials', 'topup_max_per_day_rials', 'refund_max_rials',
          'refund_max_per_day_rials')
CHECKS = {'topup_max_positive': 'topup_max_rials > 0',
          'topup_max_per_day_positive': 'topup_max_per_day_rials > 0',
          'refund_max_positive': 'refund_max_rials > 0',
          'refund_max_per_day_positive': 'refund_max_per_day_rials > 0',
          'refund_window_positive': 'refund_window_hours > 0'}


def upgrade():
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topup_allowed', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('refund_allowed', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        for name in LIMITS:
            batch_op.add_column(sa.Column(name, AMOUNT, nullable=True))
        batch_op.add_column(sa.Column('refund_pin_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('refund_window_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refund_locked_until', sa.DateTime(timezone=True),
                                      nullable=True))
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f'ck_device_{name}'), condition)
    with op.batch_alter_table('branch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_pin_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('refund_window_hours', sa.Integer(), nullable=False,
                                      server_default='24'))
        batch_op.create_check_constraint(batch_op.f('ck_branch_refund_window_positive'),
                                         'refund_window_hours > 0')
    with op.batch_alter_table('terminal_request', schema=None) as batch_op:
        batch_op.create_index('ix_terminal_request_device_received',
                              ['device_id', 'received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('terminal_request', schema=None) as batch_op:
        batch_op.drop_index('ix_terminal_request_device_received')
    with op.batch_alter_table('branch', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_branch_refund_window_positive'), type_='check')
        batch_op.drop_column('refund_window_hours')
        batch_op.drop_column('refund_pin_hash')
    with op.batch_alter_table('device', schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(batch_op.f(f'ck_device_{name}'), type_='check')
        for name in ('refund_locked_until', 'refund_window_hours', 'refund_pin_hash', *LIMITS,
                     'refund_allowed', 'topup_allowed'):
            batch_op.drop_column(name)
