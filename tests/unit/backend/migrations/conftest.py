"""What the migration tests share: an app on a database of its own with no revision
applied yet, so a test can stop at the revision before the one it checks."""

from pathlib import Path

import pytest

from backend import create_app
from tests.conftest import make_config

MIGRATIONS = str(Path("backend/migrations").resolve())


@pytest.fixture
def unmigrated_app(tmp_path_factory, databases, app):
    """An app like `app` (same database kind) on an empty database of its own."""
    return create_app(make_config(tmp_path_factory.mktemp("instance"),
                                  databases.url(app.database_kind)))
