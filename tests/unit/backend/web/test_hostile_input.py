"""Hostile input at the panel's forms and uploads: script tags, SQL fragments, path
traversal in upload names, a 50 MB upload, an xlsx bomb. Fields with a format refuse them
with a message and store nothing; free text is stored as the text it is (parameterised
SQL) and always rendered escaped; uploads are bounded before they are read."""

import io
import zipfile

import pytest
from sqlalchemy import func, select

from backend.models import Member, MemberImport
from tests import factories
from tests.unit.backend.web.admin.test_member_import import GOOD

HOSTILE = [
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)",
    "'; DROP TABLE member; --", "1' OR '1'='1", "1; SELECT pg_sleep(5)",
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2f", "\x00",
    "{{7*7}}", "${7*7}", "\u202egnp.exe", "A" * 5000,
]
FORMATTED_FIELDS = ["mobile", "national_code", "card_number", "birth_date", "email",
                    "weight_kg"]
VALID = {"first_name": "Sara", "last_name": "Ahmadi", "mobile": "09121234567",
         "gender": "", "card_number": ""}


@pytest.fixture
def imports(app):
    """The shared instance's uploads: those this test leaves behind are removed."""
    directory = app.config["INSTANCE_DIR"] / "imports"
    before = set(directory.glob("*")) if directory.exists() else set()
    yield directory
    for path in set(directory.glob("*")) - before if directory.exists() else ():
        path.unlink()


def new_files(directory, before) -> set:
    return (set(directory.glob("*")) if directory.exists() else set()) - before


@pytest.fixture
def admin(client, db):
    factories.club(db)
    factories.tier(db)
    factories.staff_user(db, username="admin", role="admin")
    assert client.post("/login", data={"username": "admin",
                                       "password": "admin-password"}).status_code == 302
    return client


def member_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Member))


@pytest.mark.parametrize("field", FORMATTED_FIELDS)
# (A NUL alone is a control character the fields strip, leaving an empty optional field.)
@pytest.mark.parametrize("value", [value for value in HOSTILE if value != "\x00"])
def test_hostile_strings_in_formatted_fields_are_refused(admin, db, field, value):
    before = member_count(db)
    response = admin.post("/members/new", data={**VALID, "card_number": factories.card_number(
        7001), field: value})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert member_count(db) == before


@pytest.mark.parametrize("value", HOSTILE[:9] + ["{{7*7}}"])
def test_hostile_free_text_is_kept_as_text_and_rendered_escaped(admin, db, value):
    response = admin.post("/members/new", data={**VALID, "card_number": factories.card_number(
        7002), "first_name": value, "city": value})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    member = db.scalars(select(Member).order_by(Member.id.desc())).first()
    assert (member.first_name, member.city) == (value, value)  # the text, nothing executed
    page = admin.get(f"/members/{member.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    if value == "{{7*7}}":
        assert "{{7*7}}" in page  # shown as typed: never evaluated as a template
    listing = admin.get(f"/members?q={value[:20]}")
    assert listing.status_code == 200
    assert "<script>alert(1)</script>" not in listing.get_data(as_text=True)


def test_a_50_mb_upload_is_refused_before_it_is_read(admin, app, db, imports):
    before = new_files(imports, set())
    class CountingStream:
        """50 MB of body that counts what the server reads of it."""

        size = 50 * 1024 * 1024
        read_bytes = 0

        def read(self, n=-1):
            n = self.size - self.read_bytes if n is None or n < 0 else n
            n = min(n, self.size - self.read_bytes)
            self.read_bytes += n
            return b"\0" * n

        def readline(self, limit=-1):
            return self.read(min(limit, 65536) if limit and limit > 0 else 65536)

        def seek(self, *args):
            return 0

        def tell(self):
            return 0

    boundary = "vafa-boundary"
    stream = CountingStream()
    response = admin.post("/import", input_stream=stream,
                          environ_overrides={"CONTENT_LENGTH": str(stream.size)},
                          content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert stream.read_bytes == 0
    assert new_files(imports, before) == set()
    assert db.scalar(select(func.count()).select_from(MemberImport)) == 0


def bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<x/>")
        archive.writestr("xl/workbook.xml", b"<x/>")
        archive.writestr("xl/worksheets/sheet1.xml", bytes(80 * 1024 * 1024))
    return buffer.getvalue()


def test_an_xlsx_bomb_is_refused_with_a_clear_message(admin, app, db, imports):
    before = new_files(imports, set())
    data = bomb()
    assert len(data) < 200_000
    response = admin.post("/import", data={"file": (io.BytesIO(data), "members.xlsx")},
                          content_type="multipart/form-data")
    assert response.status_code == 400
    assert "فایل پس از باز شدن بیش از اندازه بزرگ است." in response.get_data(as_text=True)
    assert new_files(imports, before) == set()


@pytest.mark.parametrize("name", ["../../../../tmp/evil.xlsx", "..\\..\\evil.xlsx",
                                  "/etc/cron.d/evil.xlsx", "evil\x00.xlsx",
                                  "<script>alert(1)</script>.xlsx"])
def test_upload_names_never_choose_where_a_file_goes(admin, app, db, tmp_path, name,
                                                     imports):
    path = factories.import_workbook(tmp_path / "members.xlsx", [GOOD])
    response = admin.post("/import", data={"file": (io.BytesIO(path.read_bytes()), name)},
                          content_type="multipart/form-data")
    assert response.status_code in (302, 400)
    for kept in imports.glob("**/*") if imports.exists() else []:
        assert kept.resolve().is_relative_to(imports.resolve())
        assert "evil" not in kept.name
    assert not (tmp_path.parent / "evil.xlsx").exists()
    if response.status_code == 302:
        preview = admin.get(response.headers["Location"]).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in preview and "../" not in preview
