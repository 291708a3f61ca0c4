"""first run: the club knows whether it is the demo (the panel shows a banner)

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-02 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('club', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_demo', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    # A database made by `make run` before this revision: the demo club and its
    # demo admin are recognised by their fixed names.
    op.execute("UPDATE club SET is_demo = TRUE WHERE name = 'Vafa Demo Club' AND EXISTS "
               "(SELECT 1 FROM staff_user WHERE username = 'admin')")


def downgrade():
    with op.batch_alter_table('club', schema=None) as batch_op:
        batch_op.drop_column('is_demo')
