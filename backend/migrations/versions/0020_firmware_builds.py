"""firmware builds and their rollout to terminals (issue 16, OTA)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 15:00:00

The build's files are stored in the database (firmware_build_files): at most 512 KiB a
build, served the same by every web process (backend/models/firmware.py).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table('device') as batch:
        batch.add_column(sa.Column('firmware_kind', sa.String(length=8), nullable=True))
    op.create_table(
        'firmware_builds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=24), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('manifest', sa.Text(), nullable=False),
        sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
        sa.Column('total_size', sa.Integer(), nullable=False),
        sa.Column('file_count', sa.Integer(), nullable=False),
        sa.Column('uploaded_at', UTC, nullable=False),
        sa.Column('uploaded_by', sa.Integer(), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.CheckConstraint("status IN ('active', 'withdrawn')",
                           name=op.f('ck_firmware_builds_status_known')),
        sa.CheckConstraint("kind IN ('mpy', 'py')", name=op.f('ck_firmware_builds_kind_known')),
        sa.ForeignKeyConstraint(['uploaded_by'], ['staff_user.id'],
                                name=op.f('fk_firmware_builds_uploaded_by_staff_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_builds')),
        sa.UniqueConstraint('manifest_sha256', name=op.f('uq_firmware_builds_manifest_sha256')),
        sa.UniqueConstraint('version', 'kind', name=op.f('uq_firmware_builds_version_kind')),
    )
    op.create_table(
        'firmware_build_files',
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=64), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['build_id'], ['firmware_builds.id'],
                                name=op.f('fk_firmware_build_files_build_id_firmware_builds'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('build_id', 'path', name=op.f('pk_firmware_build_files')),
    )
    op.create_table(
        'firmware_rollouts',
        sa.Column('device_id', sa.String(length=32), nullable=False),
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=False),
        sa.Column('pct', sa.Integer(), nullable=True),
        sa.Column('offered_at', UTC, nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
        sa.CheckConstraint("state IN ('offered', 'downloading', 'installed', 'trial', "
                           "'running', 'failed', 'rolled_back')",
                           name=op.f('ck_firmware_rollouts_state_known')),
        sa.ForeignKeyConstraint(['build_id'], ['firmware_builds.id'],
                                name=op.f('fk_firmware_rollouts_build_id_firmware_builds')),
        sa.ForeignKeyConstraint(['device_id'], ['device.id'],
                                name=op.f('fk_firmware_rollouts_device_id_device'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('device_id', name=op.f('pk_firmware_rollouts')),
    )


def downgrade():
    op.drop_table('firmware_rollouts')
    op.drop_table('firmware_build_files')
    op.drop_table('firmware_builds')
    with op.batch_alter_table('device') as batch:
        batch.drop_column('firmware_kind')
