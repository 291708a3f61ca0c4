"""Issue 18 item 8: no `type="number"` input anywhere in the rendered panel or portal.
Browsers drop Persian digits typed into a number input, so every page reachable from
the demo club's sign-ins (admin, operator, a member) is walked link by link and each
input it renders is checked: numbers are text inputs with the digit keyboard."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from backend.extensions import db
from backend.models import Member
from backend.services import demo, member_auth
from tests.conftest import NOW, build_app

PAGES_PER_ENDPOINT = 2   # a member page or two is every member page
MAX_PAGES = 400          # bounds the walk
SKIPPED = ("/logout", "/portal/sign-out", "/static/", "/api/")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.inputs = [], []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "input":
            self.inputs.append(attributes)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, databases):
    app = build_app(tmp_path_factory, databases, "sqlite")
    app.config["CLOCK"] = lambda: NOW
    with app.app_context():
        demo.seed_demo(db.session, NOW)
        member = db.session.scalars(select(Member).order_by(Member.id)).first()
        member_auth.set_password(db.session, member.id, "member-pass-1")
        mobile = member.mobile
    app.config["DEMO_MEMBER_MOBILE"] = mobile
    return app


def walk(client, app, start: str) -> dict[str, list[dict]]:
    """Every page reachable from `start` by links: {path: its inputs}."""
    adapter = app.url_map.bind("localhost")
    seen, per_endpoint, queue, pages = set(), {}, [start], {}
    while queue and len(pages) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            endpoint, arguments = adapter.match(urlsplit(path).path)
        except HTTPException:
            continue
        # One kind of page: the endpoint and its words (catalogue/<kind>), not its ids.
        endpoint = (endpoint, *sorted(str(value) for value in arguments.values()
                                      if not isinstance(value, int)))
        if per_endpoint.get(endpoint, 0) >= PAGES_PER_ENDPOINT:
            continue
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        per_endpoint[endpoint] = per_endpoint.get(endpoint, 0) + 1
        parser = _Page()
        parser.feed(response.get_data(as_text=True))
        pages[path] = parser.inputs
        for href in parser.links:
            target = urljoin(path, href)
            parts = urlsplit(target)
            if parts.netloc not in ("", "localhost") or target.startswith(SKIPPED):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if not link.startswith(SKIPPED) and link not in seen:
                queue.append(link)
    return pages


def numeric_problems(pages: dict[str, list[dict]]) -> list[str]:
    problems = []
    for path, inputs in pages.items():
        for attributes in inputs:
            kind = attributes.get("type", "text")
            if kind == "number":
                problems.append(f"{path}: {attributes.get('name')} is type=number")
            elif attributes.get("inputmode") in ("numeric", "decimal") and kind not in (
                    "text", "password"):  # a PIN is typed unseen
                problems.append(f"{path}: {attributes.get('name')} is type={kind}")
    return problems


@pytest.mark.parametrize(("username", "password"), list(demo.DEMO_LOGINS.items()))
def test_no_panel_page_renders_a_number_input(demo_app, username, password):
    client = demo_app.test_client()
    assert client.post("/login", data={"username": username,
                                       "password": password}).status_code == 302
    pages = walk(client, demo_app, "/dashboard")
    # The walk reached the forms with numbers: tiers, offers, products, settings.
    walked = " ".join(pages)
    expected = ["/members/"] + (["/catalogue/tiers/", "/catalogue/offers/",
                                 "/catalogue/products/new", "/settings"]
                                if username == "admin" else [])
    for part in expected:
        assert part in walked, (part, len(pages), sorted(pages))
    numeric = [path for path, inputs in pages.items()
               if any(i.get("inputmode") in ("numeric", "decimal") for i in inputs)]
    assert len(numeric) >= (8 if username == "admin" else 2), numeric
    assert numeric_problems(pages) == []


def test_no_portal_page_renders_a_number_input(demo_app):
    client = demo_app.test_client()
    response = client.post("/portal/sign-in", data={
        "mobile": demo_app.config["DEMO_MEMBER_MOBILE"], "password": "member-pass-1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    pages = walk(client, demo_app, "/portal/")
    assert len(pages) >= 5, sorted(pages)
    assert any(re.search(r"transfer", path) for path in pages), sorted(pages)
    assert numeric_problems(pages) == []


def test_the_walk_finds_a_number_input(demo_app, monkeypatch):
    """The check itself: a number input on a walked page is reported."""
    assert numeric_problems({"/x": [{"type": "number", "name": "rank"}]}) == [
        "/x: rank is type=number"]
    assert numeric_problems({"/x": [{"type": "tel", "inputmode": "numeric",
                                     "name": "n"}]}) == ["/x: n is type=tel"]
