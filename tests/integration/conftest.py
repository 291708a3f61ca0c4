import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import build_app
from tests.support.stack import start_stack


@pytest.fixture
def stack(request, tmp_path_factory, databases, broker, app):
    """A live stack on the same kind of database as `app` (SQLite, then PostgreSQL)."""
    live = build_app(tmp_path_factory, databases, app.database_kind)
    running = start_stack(live, broker)
    yield running
    running.worker.stop()


@pytest.fixture
def api(stack):
    """The stack's app behind a real HTTP server; the backend knows the broker's files
    and pid, as on a single-machine install."""
    stack.app.config["BROKER_DIR"] = str(stack.broker.config_dir)
    (stack.broker.config_dir / "mosquitto.pid").write_text(str(stack.broker.process.pid))
    server = make_server("127.0.0.1", 0, stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1"
    server.shutdown()
    thread.join(5)
