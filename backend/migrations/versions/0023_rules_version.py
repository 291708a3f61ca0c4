"""rules version: one number that changes in the same transaction as any edit of the
club's settings, a tier or an offer, so a worker keeps those rules in memory and reads
only this number on a purchase (issue 19, "Rules from memory, never stale")

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 00:00:00

Database triggers change it, so no edit path (panel, API, CLI, import, a manual SQL
fix) can forget to. The new number is random, not the old one plus one: an edit that
is rolled back must not leave a number a later, different edit reuses — a process that
read the rolled-back rules under that number would keep them.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

RULE_TABLES = ('club', 'tier', 'offer')
# A random 53-bit number (an exact float, any driver) other than the current one.
SQLITE_NEXT = "(SELECT abs(random()) % 9007199254740991 + 1)"
POSTGRES_NEXT = "floor(random() * 9007199254740990)::bigint + 1"


def upgrade():
    op.create_table(
        'rules_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_rules_version_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rules_version')),
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(f"INSERT INTO rules_version (id, version) VALUES (1, {POSTGRES_NEXT})")
        op.execute(f"""
            CREATE FUNCTION bump_rules_version() RETURNS trigger AS $$
            BEGIN
                UPDATE rules_version SET version = {POSTGRES_NEXT} WHERE id = 1;
                RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        for table in RULE_TABLES:
            op.execute(f"""
                CREATE TRIGGER {table}_bumps_rules_version
                AFTER INSERT OR UPDATE OR DELETE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION bump_rules_version()""")
        return
    op.execute(f"INSERT INTO rules_version (id, version) VALUES (1, {SQLITE_NEXT})")
    for table in RULE_TABLES:
        for event in ('INSERT', 'UPDATE', 'DELETE'):
            op.execute(f"""
                CREATE TRIGGER {table}_{event.lower()}_bumps_rules_version
                AFTER {event} ON {table}
                BEGIN
                    UPDATE rules_version SET version = {SQLITE_NEXT} WHERE id = 1;
                END""")


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in RULE_TABLES:
        if dialect == 'postgresql':
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bumps_rules_version ON {table}")
        else:
            for event in ('insert', 'update', 'delete'):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_bumps_rules_version")
    if dialect == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS bump_rules_version()")
    op.drop_table('rules_version')
