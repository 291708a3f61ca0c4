"""card batches, serial counters and enrolment tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('card_serial_counter',
    sa.Column('prefix', sa.String(length=6), nullable=False),
    sa.Column('next_serial', sa.Integer(), nullable=False),
    sa.CheckConstraint('next_serial >= 1', name=op.f('ck_card_serial_counter_next_serial_positive')),
    sa.CheckConstraint('length(prefix) = 6', name=op.f('ck_card_serial_counter_prefix_length')),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_card_serial_counter'))
    )
    op.create_table('card_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=6), nullable=False),
    sa.Column('first_serial', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('count > 0', name=op.f('ck_card_batch_count_positive')),
    sa.CheckConstraint('first_serial >= 1', name=op.f('ck_card_batch_first_serial_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_batch'))
    )
    op.create_table('enrolment_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('lang', sa.String(length=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_enrolment_token_branch_id_branch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_enrolment_token_token_sha256'))
    )


def downgrade():
    op.drop_table('enrolment_token')
    op.drop_table('card_batch')
    op.drop_table('card_serial_counter')
