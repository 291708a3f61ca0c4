"""Browser tests: Playwright driving Debian's chromium against a live panel.

The panel runs in a thread (werkzeug's server) on a free port, over a migrated SQLite
file with CSRF on, as in production. Screenshots go to tests/artifacts/ (kept by CI as
artefacts; docs/images has copies for the README).
"""

import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from backend.extensions import db
from backend.models import Branch, Club, StaffUser, Tier
from tests.conftest import build_app
from tests.factories import cheap_password_hash
from tests.support.broker import free_port

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: background fetches would only fail and slow starts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, databases):
    app = build_app(tmp_path_factory, databases, "sqlite", WTF_CSRF_ENABLED=True,
                    TESTING=False)
    with app.app_context():
        session = db.session
        session.add(Club(id=1, name="Vafa Demo Club", name_fa="باشگاه مشتریان وفا",
                         point_value_rials=100, welcome_credit_rials=50_000))
        central = Branch(code="central", name="شعبهٔ مرکزی")
        session.add(central)
        session.add_all([
            Tier(code="bronze", name="bronze", name_fa="برنزی", rank=1, credit_percent_bp=200,
                 discount_percent_bp=0, points_per_step=1, point_step_rials=10_000),
            Tier(code="silver", name="silver", name_fa="نقره‌ای", rank=2, credit_percent_bp=500,
                 discount_percent_bp=500, points_per_step=1, point_step_rials=10_000,
                 min_spend_rials=100_000_000),
        ])
        session.flush()
        session.add_all([
            StaffUser(username="admin", full_name="مدیر باشگاه", role="admin",
                      password_hash=cheap_password_hash("admin1234")),
            StaffUser(username="operator", full_name="اپراتور مرکزی", role="operator",
                      branch_id=central.id, password_hash=cheap_password_hash("operator1234")),
        ])
        session.commit()
    yield from serve(app)


def serve(app):
    """Serve `app` in a thread until the fixture ends."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield type("Live", (), {"url": f"http://127.0.0.1:{port}", "app": app})
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory, databases):
    """The panel over the demo club `make run` makes, with its past: for pages that
    need data to look like anything (the docs' screenshots)."""
    from backend.services import demo

    app = build_app(tmp_path_factory, databases, "sqlite", WTF_CSRF_ENABLED=True,
                    TESTING=False)
    with app.app_context():
        demo.seed_demo(db.session, now())
    yield from serve(app)


# Package scope, not session: the sync API keeps an asyncio loop running on this thread
# while Playwright is open, and later tests that call asyncio.run() would fail.
@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "browser tests need Debian's chromium: apt-get install chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fa-IR")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str, docs: bool = False) -> Path:
    """The page as tests/artifacts/<name>.png; with `docs`, also as docs/images/<name>.png
    when that is missing or VAFA_UPDATE_SCREENSHOT=1 (the docs' copies stay put
    otherwise, so a test run does not rewrite them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = DOCS_IMAGES / f"{name}.png"
    if docs and (not target.exists() or os.environ.get("VAFA_UPDATE_SCREENSHOT") == "1"):
        shutil.copyfile(path, target)
    return path


def sign_in(page, live, username: str, password: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/dashboard")


def now() -> datetime:
    return datetime.now(UTC)
