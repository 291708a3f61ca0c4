"""card inventory: cards of a batch are known as issued, not yet assigned

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 09:00:00

Cards gain the `issued` status (printed, in stock, no member), the batch they were
printed in, and when they were given to their member. Every batch recorded before this
revision gets its cards in stock, so the panel can hand them out like new ones.
"""
from alembic import op
import sqlalchemy as sa

import backend.models.base
from card_spec import make_card_number


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

INSERT_CHUNK = 1000


def upgrade():
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('assigned_at', backend.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_card_batch_id'), ['batch_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_card_batch_id_card_batch'), 'card_batch', ['batch_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_card_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_card_status_known'), "status IN ('issued', 'active', 'blocked')")
        batch_op.create_check_constraint(batch_op.f('ck_card_issued_in_stock'), "status <> 'issued' OR member_id IS NULL")

    connection = op.get_bind()
    card = sa.table('card', sa.column('id', sa.Integer), sa.column('number', sa.String),
                    sa.column('member_id', sa.Integer), sa.column('status', sa.String),
                    sa.column('issued_at', sa.DateTime), sa.column('batch_id', sa.Integer),
                    sa.column('assigned_at', sa.DateTime))
    batch = sa.table('card_batch', sa.column('id', sa.Integer), sa.column('prefix', sa.String),
                     sa.column('first_serial', sa.Integer), sa.column('count', sa.Integer),
                     sa.column('created_at', sa.DateTime))
    connection.execute(card.update().where(card.c.member_id.is_not(None))
                       .values(assigned_at=card.c.issued_at))
    for batch_id, prefix, first, count, created_at in connection.execute(
            sa.select(batch.c.id, batch.c.prefix, batch.c.first_serial, batch.c.count,
                      batch.c.created_at).order_by(batch.c.id)).all():
        numbers = [make_card_number(prefix, serial) for serial in range(first, first + count)]
        existing = set()
        for start in range(0, len(numbers), INSERT_CHUNK):
            chunk = numbers[start:start + INSERT_CHUNK]
            existing.update(connection.execute(
                sa.select(card.c.number).where(card.c.number.in_(chunk))).scalars())
            connection.execute(card.update().where(card.c.number.in_(chunk))
                               .values(batch_id=batch_id))
        missing = [{'number': number, 'status': 'issued', 'issued_at': created_at,
                    'batch_id': batch_id} for number in numbers if number not in existing]
        for start in range(0, len(missing), INSERT_CHUNK):
            connection.execute(card.insert(), missing[start:start + INSERT_CHUNK])


def downgrade():
    connection = op.get_bind()
    card = sa.table('card', sa.column('status', sa.String))
    connection.execute(card.delete().where(card.c.status == 'issued'))
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_card_issued_in_stock'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_card_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_card_status_known'), "status IN ('active', 'blocked')")
        batch_op.drop_constraint(batch_op.f('fk_card_batch_id_card_batch'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_card_batch_id'))
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('batch_id')
