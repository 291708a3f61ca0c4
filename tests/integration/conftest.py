import pytest

from tests.conftest import build_app
from tests.support.stack import start_stack


@pytest.fixture
def stack(request, tmp_path_factory, databases, broker, app):
    """A live stack on the same kind of database as `app` (SQLite, then PostgreSQL)."""
    live = build_app(tmp_path_factory, databases, app.database_kind)
    running = start_stack(live, broker)
    yield running
    running.worker.stop()
