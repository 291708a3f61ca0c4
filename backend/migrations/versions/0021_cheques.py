"""cheques and instalments reachable (issue 18, L13)

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-02 15:00:00

A cheque gets its bank and branch, instalments their plan; cheques clear (a status of
their own); each status change is an event row; the reminder's days are a setting.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = sa.DateTime(timezone=True)
LIVE_CHEQUE = "kind = 'cheque' AND bank != '' AND status != 'cancelled'"


def upgrade():
    op.create_table(
        'instalment_plan',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=True),
        sa.Column('total_rials', BIG, nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('schedule', sa.String(length=8), nullable=False),
        sa.Column('interval_days', sa.Integer(), nullable=True),
        sa.Column('first_due', sa.Date(), nullable=False),
        sa.Column('purchase_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('request_key', sa.String(length=64), nullable=True),
        sa.CheckConstraint('total_rials > 0', name=op.f('ck_instalment_plan_total_positive')),
        sa.CheckConstraint('count BETWEEN 1 AND 120', name=op.f('ck_instalment_plan_count_range')),
        sa.CheckConstraint("schedule IN ('monthly', 'days')",
                           name=op.f('ck_instalment_plan_schedule_known')),
        sa.CheckConstraint('interval_days IS NULL OR interval_days BETWEEN 1 AND 366',
                           name=op.f('ck_instalment_plan_interval_range')),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_instalment_plan_member_id_member')),
        sa.ForeignKeyConstraint(['branch_id'], ['branch.id'],
                                name=op.f('fk_instalment_plan_branch_id_branch')),
        sa.ForeignKeyConstraint(['purchase_id'], ['purchase.id'],
                                name=op.f('fk_instalment_plan_purchase_id_purchase')),
        sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'],
                                name=op.f('fk_instalment_plan_created_by_id_staff_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_instalment_plan')),
        sa.UniqueConstraint('request_key', name=op.f('uq_instalment_plan_request_key')),
    )
    op.create_index(op.f('ix_instalment_plan_member_id'), 'instalment_plan', ['member_id'])
    with op.batch_alter_table('payment_instrument', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank', sa.String(length=32), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('branch_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('plan_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('purchase_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_payment_instrument_branch_id_branch'),
                                    'branch', ['branch_id'], ['id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_payment_instrument_plan_id_instalment_plan'), 'instalment_plan',
            ['plan_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_payment_instrument_purchase_id_purchase'),
                                    'purchase', ['purchase_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_payment_instrument_branch_id'), ['branch_id'])
        batch_op.create_index(batch_op.f('ix_payment_instrument_plan_id'), ['plan_id'])
        batch_op.drop_constraint(batch_op.f('ck_payment_instrument_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('pending', 'cleared', 'paid', 'bounced', 'cancelled')")
    op.create_index('uq_payment_instrument_cheque', 'payment_instrument', ['bank', 'reference'],
                    unique=True, sqlite_where=sa.text(LIVE_CHEQUE),
                    postgresql_where=sa.text(LIVE_CHEQUE))
    op.create_table(
        'instrument_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('staff_user_id', sa.Integer(), nullable=True),
        sa.Column('before_status', sa.String(length=16), nullable=True),
        sa.Column('after_status', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('at', UTC, nullable=False),
        sa.ForeignKeyConstraint(['instrument_id'], ['payment_instrument.id'],
                                name=op.f('fk_instrument_event_instrument_id_payment_instrument')),
        sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'],
                                name=op.f('fk_instrument_event_staff_user_id_staff_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_event')),
    )
    op.create_index(op.f('ix_instrument_event_instrument_id'), 'instrument_event',
                    ['instrument_id'])
    with op.batch_alter_table('message_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instrument_reminder_days', sa.Integer(), nullable=False,
                                      server_default='3'))
        batch_op.create_check_constraint('instrument_reminder_days_range',
                                         'instrument_reminder_days BETWEEN 1 AND 60')


def downgrade():
    with op.batch_alter_table('message_settings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_message_settings_instrument_reminder_days_range'),
                                 type_='check')
        batch_op.drop_column('instrument_reminder_days')
    op.drop_index(op.f('ix_instrument_event_instrument_id'), table_name='instrument_event')
    op.drop_table('instrument_event')
    op.drop_index('uq_payment_instrument_cheque', table_name='payment_instrument')
    op.execute("UPDATE payment_instrument SET status = 'paid' WHERE status = 'cleared'")
    with op.batch_alter_table('payment_instrument', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payment_instrument_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('pending', 'paid', 'bounced', 'cancelled')")
        batch_op.drop_index(batch_op.f('ix_payment_instrument_plan_id'))
        batch_op.drop_index(batch_op.f('ix_payment_instrument_branch_id'))
        batch_op.drop_constraint(batch_op.f('fk_payment_instrument_purchase_id_purchase'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_payment_instrument_plan_id_instalment_plan'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_payment_instrument_branch_id_branch'),
                                 type_='foreignkey')
        for column in ('purchase_id', 'sequence', 'plan_id', 'branch_id', 'bank'):
            batch_op.drop_column(column)
    op.drop_index(op.f('ix_instalment_plan_member_id'), table_name='instalment_plan')
    op.drop_table('instalment_plan')
