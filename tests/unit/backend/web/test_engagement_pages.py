"""Panel and portal pages of issue 6: news with an image and a tier audience, the FAQ,
a survey from the panel answered in the portal and reported back, the happy-call list
and form, and integration tokens shown once."""

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from backend.models import ApiToken, AuditLog, CallTask, NewsPost, Survey
from backend.services import api_tokens
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.web.conftest import MEMBER_PASSWORD, member_headers, staff_headers


@pytest.fixture
def pinned(app):
    app.config["CLOCK"] = lambda: NOW
    yield
    app.config.pop("CLOCK", None)


def staff_sign_in(client, username):
    assert client.post("/login", data={"username": username,
                                       "password": "admin-password"}).status_code == 302


def member_sign_in(client, member):
    response = client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                    "password": MEMBER_PASSWORD})
    assert response.status_code == 302


def png() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(output, format="PNG")
    return output.getvalue()


def test_news_from_the_panel_reaches_its_tier_in_the_portal(client, db, api_world, pinned):
    staff_sign_in(client, "admin")
    response = client.post("/news/new", data={
        "kind": "event", "title": "Yalda night", "body": "Pomegranates for everyone.",
        "event_on": "۱۴۰۵/۰۹/۳۰", "tier_codes": "silver", "is_active": "y",
        "image": (io.BytesIO(png()), "yalda.png")}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    post = db.scalars(select(NewsPost)).one()
    assert post.kind == "event" and post.image_filename.startswith("news-")
    bad = client.post("/news/new", data={"kind": "news", "title": "x", "tier_codes": "nope"})
    assert bad.status_code == 400  # next to the field, in Persian
    assert "یکی از کدهای سطح در فهرست وجود ندارد." in bad.get_data(as_text=True)
    client.post("/logout")
    member_sign_in(client, api_world.own)
    page = client.get("/portal/news").get_data(as_text=True)
    assert "Yalda night" in page and "Pomegranates for everyone." in page
    image = client.get(f"/portal/news/{post.id}/image")
    assert image.status_code == 200 and image.mimetype == "image/png"
    post.tier_codes = "gold"
    db.flush()
    assert "Yalda night" not in client.get("/portal/news").get_data(as_text=True)


def test_faq_is_public_and_managed_in_the_panel(client, db, api_world):
    staff_sign_in(client, "granted")
    assert client.post("/faq/new", data={"question": "Do points expire?",
                                         "answer": "Never.", "position": "۲",
                                         "is_active": "y"}).status_code == 302
    client.post("/logout")
    page = client.get("/portal/faq").get_data(as_text=True)
    assert "Do points expire?" in page and "Never." in page and "Hours?" in page
    assert page.index("Hours?") < page.index("Do points expire?")  # by position


def test_a_survey_is_answered_once_in_the_portal_and_reported(client, db, api_world):
    staff_sign_in(client, "admin")
    response = client.post("/surveys/new", data={
        "title": "Our service", "description": "Two minutes.", "is_active": "y",
        "questions": "rating: How were we?\nchoice: Which branch? | North, South\n"
                     "text: Anything else?"})
    assert response.status_code == 302, response.get_data(as_text=True)
    survey = db.scalars(select(Survey)).one()
    rating, choice, text = (question.id for question in survey.questions)
    client.post("/logout")
    member_sign_in(client, api_world.own)
    assert "Our service" in client.get("/portal/surveys").get_data(as_text=True)
    missing = client.post(f"/portal/surveys/{survey.id}", data={f"q{choice}": "North"})
    assert missing.status_code == 400
    assert f'data-error-for="q{rating}"' in missing.get_data(as_text=True)
    done = client.post(f"/portal/surveys/{survey.id}", data={
        f"q{rating}": "۵", f"q{choice}": "South", f"q{text}": "Lovely tea <b>really</b>"})
    assert done.status_code == 302
    assert client.get(f"/portal/surveys/{survey.id}").status_code == 404  # answered
    client.post("/portal/sign-out")
    member_sign_in(client, api_world.other)
    assert client.post(f"/portal/surveys/{survey.id}", data={
        f"q{rating}": "3", f"q{choice}": "South"}).status_code == 302
    client.post("/portal/sign-out")
    staff_sign_in(client, "admin")
    report = client.get(f"/surveys/{survey.id}/report").get_data(as_text=True)
    assert re.search(r"data-responses>\s*۲", report)
    assert re.search(r"data-average>\s*۴", report)
    assert "Lovely tea &lt;b&gt;really&lt;/b&gt;" in report


def test_operators_call_their_branch_and_results_reach_the_report(client, db, api_world):
    task = db.scalars(select(CallTask).where(
        CallTask.purchase_id == api_world.purchase.id)).one()
    staff_sign_in(client, "operator")
    listing = client.get("/calls").get_data(as_text=True)
    assert f'data-call="{task.id}"' in listing and api_world.own.display_name in listing
    page = client.get(f"/calls/{task.id}").get_data(as_text=True)
    assert "data-mobile" in page
    assert db.scalars(select(Survey)).all() == []  # showing the call wrote nothing
    questions = [int(q) for q in re.findall(r'name="q(\d+)" value="1"', page)]
    assert len(questions) == 3  # price, quality, staff behaviour
    refused = client.post(f"/calls/{task.id}", data={"outcome": "answered",
                                                     f"q{questions[0]}": "4"})
    assert refused.status_code == 400 and task.status == "open"
    answers = {f"q{question}": "۴" for question in questions}
    response = client.post(f"/calls/{task.id}", data={"outcome": "answered", **answers,
                                                      "note": "Happy"})
    assert response.status_code == 302
    assert task.status == "done"
    [audited] = db.scalars(select(AuditLog).where(AuditLog.action == "happy_call")).all()
    assert (audited.entity_id, audited.details) == (str(task.id), {"outcome": "answered"})
    assert f'data-call="{task.id}"' not in client.get("/calls").get_data(as_text=True)
    client.post("/logout")
    staff_sign_in(client, "granted")
    report = client.get("/surveys/happy-call/report", follow_redirects=True)
    assert re.search(r"data-responses>\s*۱", report.get_data(as_text=True))


def test_integration_token_is_shown_once_and_revocable(client, db, api_world):
    staff_sign_in(client, "operator")
    response = client.post("/account/tokens", data={"name": "Accounting", "valid_days": "۳۰"})
    assert response.status_code == 201
    token = re.search(r"(vafa_[A-Za-z0-9_-]+)", response.get_data(as_text=True)).group(1)
    row = db.scalars(select(ApiToken).where(ApiToken.kind == "integration")).one()
    assert row.token_hash == api_tokens.digest(token) and row.name == "Accounting"
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert token not in listing and row.prefix in listing
    api = client.get("/api/v1/members", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 302
    api = client.get("/api/v1/members", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    client.post("/logout")
    staff_sign_in(client, "granted")
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 404  # not theirs


def test_news_images_go_only_to_who_may_read_the_post(client, db, api_world, pinned):
    """An image of a post for some tiers is served to members of those tiers (portal
    session or member token) and to staff with "offers", marked private; a post for
    every tier is public and may be cached by anyone; drafts are staff-only, never
    stored."""
    factories.tier(db, code="gold", name="gold", rank=3)
    staff_sign_in(client, "admin")
    posts = {}
    for title, tiers, active in (("For all", "", "y"), ("For silver", "silver", "y"),
                                 ("For gold", "gold", "y"), ("Draft", "", "")):
        data = {"kind": "news", "title": title, "body": "…", "tier_codes": tiers,
                "image": (io.BytesIO(png()), "p.png")}
        if active:
            data["is_active"] = "y"
        assert client.post("/news/new", data=data,
                           content_type="multipart/form-data").status_code == 302
        posts[title] = db.scalars(select(NewsPost).where(NewsPost.title == title)).one().id
    draft = client.get(f"/portal/news/{posts['Draft']}/image")
    assert draft.status_code == 200 and draft.cache_control.no_store
    client.post("/logout")

    def image(title, **headers):
        return client.get(f"/portal/news/{posts[title]}/image", headers=headers)

    # Anyone: the post for every tier, cacheable; nothing else.
    assert image("For all").status_code == 200 and image("For all").cache_control.public
    assert [image(title).status_code for title in ("For silver", "For gold", "Draft")] == [
        404, 404, 404]
    # A silver member in the portal: silver's image, private; not gold's.
    member_sign_in(client, api_world.own)
    silver = image("For silver")
    assert silver.status_code == 200 and silver.cache_control.private
    assert not silver.cache_control.public and "Authorization" in silver.vary
    assert (image("For gold").status_code, image("Draft").status_code) == (404, 404)
    client.post("/portal/sign-out")
    # The app, with a member token or a staff token.
    member_token = member_headers(client, api_world.other)
    assert image("For silver", **member_token).status_code == 200
    assert image("For gold", **member_token).status_code == 404
    assert image("For gold", Authorization="Bearer vafa_not-a-token").status_code == 404
    assert image("Draft", **staff_headers(client, "admin")).status_code == 200
    assert image("Draft", **staff_headers(client, "operator")).status_code == 404


def test_the_happy_call_report_before_any_call_makes_nothing(client, db, api_world):
    staff_sign_in(client, "granted")
    response = client.get("/surveys/happy-call/report")
    assert response.status_code == 302 and response.location.endswith("/surveys")
    assert db.scalars(select(Survey)).all() == []
