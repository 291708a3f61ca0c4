"""reliability: device HMAC keys encrypted at rest (issue 10)

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-25

The key column holds a Fernet token (backend/encryption.py) instead of 64 hex
characters: the check on its length goes, and every existing key is encrypted in place
with the app's key (VAFA_ENCRYPTION_KEY or instance/secret.key). Downgrade decrypts them.
"""
import sqlalchemy as sa
from alembic import op

from backend import encryption

revision = '0011'
down_revision = '0008'
branch_labels = None
depends_on = None


def _rewrite_keys(convert) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, key_hex FROM device")).all()
    for device_id, stored in rows:
        connection.execute(sa.text("UPDATE device SET key_hex = :key WHERE id = :id"),
                           {"key": convert(stored), "id": device_id})


def upgrade():
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_device_key_length'), type_='check')
        batch_op.alter_column('key_hex', existing_type=sa.String(length=64), type_=sa.Text(),
                              existing_nullable=False)
    _rewrite_keys(encryption.encrypt)


def downgrade():
    _rewrite_keys(encryption.decrypt)
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.alter_column('key_hex', existing_type=sa.Text(), type_=sa.String(length=64),
                              existing_nullable=False)
        batch_op.create_check_constraint(batch_op.f('ck_device_key_length'),
                                         'length(key_hex) = 64')
