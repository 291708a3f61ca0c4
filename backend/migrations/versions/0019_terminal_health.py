"""terminal health, remote config and remote logs (issue 16)

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02 00:00:00

A table of its own, one row per terminal, created when a terminal first reports.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        'terminal_health',
        sa.Column('device_id', sa.String(length=32), nullable=False),
        sa.Column('reported_at', UTC, nullable=True),
        sa.Column('uptime_s', BIG, nullable=True),
        sa.Column('free_heap', sa.Integer(), nullable=True),
        sa.Column('rssi', sa.Integer(), nullable=True),
        sa.Column('oldest_queued_s', BIG, nullable=True),
        sa.Column('set_aside', sa.Integer(), nullable=False),
        sa.Column('clock_synced', sa.Boolean(), nullable=True),
        sa.Column('paper_ok', sa.Boolean(), nullable=True),
        sa.Column('printer_error', sa.String(length=60), nullable=True),
        sa.Column('bad_signatures_seen', sa.Integer(), nullable=False),
        sa.Column('crashes', sa.Integer(), nullable=False),
        sa.Column('applied_version', sa.Integer(), nullable=False),
        sa.Column('config_error', sa.String(length=80), nullable=True),
        sa.Column('pending', sa.JSON(), nullable=True),
        sa.Column('pending_version', sa.Integer(), nullable=False),
        sa.Column('sent_at', UTC, nullable=True),
        sa.Column('bad_signatures', sa.Integer(), nullable=False),
        sa.Column('bad_signature_at', UTC, nullable=True),
        sa.Column('log_lines', sa.JSON(), nullable=True),
        sa.Column('logs_at', UTC, nullable=True),
        sa.Column('logs_requested_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['device.id'],
                                name=op.f('fk_terminal_health_device_id_device'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('device_id', name=op.f('pk_terminal_health')),
    )


def downgrade():
    op.drop_table('terminal_health')
