"""reliability: device HMAC keys and messaging secrets encrypted at rest (issue 10)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25

The key column holds a Fernet token (backend/encryption.py) instead of 64 hex
characters: the check on its length goes, and every existing key is encrypted in place
with the app's key (VAFA_ENCRYPTION_KEY or instance/secret.key). The Kavenegar API key and
the SMTP password in `message_settings` are encrypted the same way. Downgrade decrypts.
"""
import sqlalchemy as sa
from alembic import op

from backend import encryption

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


SETTINGS_SECRETS = {'kavenegar_api_key': 128, 'smtp_password': 255}


def _rewrite_keys(convert) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, key_hex FROM device")).all()
    for device_id, stored in rows:
        connection.execute(sa.text("UPDATE device SET key_hex = :key WHERE id = :id"),
                           {"key": convert(stored), "id": device_id})
    columns = ', '.join(SETTINGS_SECRETS)
    for row in connection.execute(sa.text(f"SELECT id, {columns} FROM message_settings")).all():
        connection.execute(
            sa.text("UPDATE message_settings SET kavenegar_api_key = :api_key, "
                    "smtp_password = :password WHERE id = :id"),
            {"api_key": convert(row[1]), "password": convert(row[2]), "id": row[0]})


def upgrade():
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_device_key_length'), type_='check')
        batch_op.alter_column('key_hex', existing_type=sa.String(length=64), type_=sa.Text(),
                              existing_nullable=False)
    with op.batch_alter_table('message_settings', schema=None) as batch_op:
        for column, length in SETTINGS_SECRETS.items():
            batch_op.alter_column(column, existing_type=sa.String(length=length),
                                  type_=sa.Text(), existing_nullable=False)
    _rewrite_keys(encryption.encrypt)


def downgrade():
    _rewrite_keys(encryption.decrypt)
    with op.batch_alter_table('message_settings', schema=None) as batch_op:
        for column, length in SETTINGS_SECRETS.items():
            batch_op.alter_column(column, existing_type=sa.Text(),
                                  type_=sa.String(length=length), existing_nullable=False)
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.alter_column('key_hex', existing_type=sa.Text(), type_=sa.String(length=64),
                              existing_nullable=False)
        batch_op.create_check_constraint(batch_op.f('ck_device_key_length'),
                                         'length(key_hex) = 64')
