"""The Alembic migrations build exactly the schema the models describe, on every database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend.models import Base


def test_migrations_match_the_models(app, db):
    context = MigrationContext.configure(db.connection(), opts={"compare_type": True})
    differences = compare_metadata(context, Base.metadata)
    assert differences == []
