"""The Firmware page (issue 16, OTA): admins only; every bad build is refused with its own
Persian sentence; a build is rolled out to a branch by signed cmds with audit rows; the
terminals list and page show the firmware and how far its update got, a failure with its
detail; the files are served without login, byte for byte."""

import json

import pytest
from sqlalchemy import select

from backend import protocol
from backend.models import AuditLog, Device, FirmwareBuild, FirmwareRollout
from backend.services import devices
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.services.test_firmware_builds import FILES, build_tar, tar_of
from tests.unit.backend.web.test_metrics import samples


@pytest.fixture
def world(db, app):
    app.config["CLOCK"] = lambda: NOW
    app.config["PUBLIC_URL"] = "http://shop.example:5000"
    factories.club(db)
    central, north = factories.branch(db, name="Central"), factories.branch(db, name="North")
    for device_id, branch, kind in (("t01", central, "py"), ("t02", central, "py"),
                                    ("t03", north, "py"), ("t04", central, "mpy")):
        factories.device(db, device_id=device_id, branch_id=branch.id)
        devices.record_state(db, device_id, json.dumps(
            {"online": True, "fw": "0.3.0", "fwk": kind, "queued": 0}).encode(), NOW)
    factories.staff_user(db, username="boss", role="admin")
    factories.staff_user(db, username="tech", role="operator", branch_id=central.id,
                         permissions=["devices"])
    return central, north


@pytest.fixture
def sent(monkeypatch):
    frames = []
    monkeypatch.setattr("backend.web.admin.firmware._publish",
                        lambda: lambda topic, frame: frames.append((topic, frame)))
    return frames


def login(client, username="boss"):
    assert client.post("/login", data={"username": username,
                                       "password": "admin-password"}).status_code == 302


def upload(client, data: bytes, name="b.tar"):
    from io import BytesIO

    return client.post("/firmware", data={"build": (BytesIO(data), name), "note": "تست"},
                       content_type="multipart/form-data")


def test_only_admins_reach_the_firmware_page(client, db, world):
    login(client, "tech")
    assert client.get("/firmware").status_code == 403
    assert client.post("/terminals/t01/firmware/reoffer").status_code == 403
    assert "/firmware" not in client.get("/terminals").get_data(as_text=True).split(
        "<main")[0]
    client.post("/logout")
    login(client)
    page = client.get("/firmware").get_data(as_text=True)
    assert "بارگذاری ساخت" in page and "هنوز ساختی نیست." in page


@pytest.mark.parametrize(("data", "shown"), [
    (b"not a tar" * 100, "یک tar فشرده‌نشده نیست"),
    (lambda: tar_of([("manifest.json", b'{"format":1}')]), "manifest.json این ساخت درست نیست"),
    (lambda: tar_of([("manifest.json", b"")]),
     "manifest.json این ساخت درست نیست"),
    ("hash", "اندازه یا هش یکی از فایل‌های ساخت"),
    (b"\0" * 700_000, "ساخت بیش از اندازه بزرگ است"),
])
def test_every_bad_build_gets_a_clear_error(client, db, world, tmp_path, data, shown):
    if data == "hash":
        good = build_tar(tmp_path)
        data = good.replace(b"print('app')", b"print('APP')")
    elif callable(data):
        data = data()
    login(client)
    response = upload(client, data)
    assert response.status_code == 400
    error = response.get_data(as_text=True).split('id="firmware-upload"')[1].split("</form>")[0]
    assert shown in error
    assert db.scalars(select(FirmwareBuild)).all() == []


def test_duplicate_version_is_refused(client, db, world, tmp_path):
    login(client)
    assert upload(client, build_tar(tmp_path)).status_code == 302
    response = upload(client, build_tar(tmp_path))
    assert "این ساخت پیش‌تر بارگذاری شده است" in response.get_data(as_text=True)
    other = build_tar(tmp_path, files={**FILES, "vafa/x.py": b"x = 1\n"}, name="o.tar")
    response = upload(client, other)
    assert response.status_code == 400
    assert "ساختی با همین نسخه و نوع پیش‌تر بارگذاری شده است" in response.get_data(as_text=True)


def test_rollout_to_a_branch_then_state_on_the_terminals_pages(client, db, world, sent,
                                                              tmp_path):
    central, _ = world
    login(client)
    assert upload(client, build_tar(tmp_path)).status_code == 302
    build = db.scalars(select(FirmwareBuild)).one()
    listing = client.get("/firmware").get_data(as_text=True)
    assert 'data-build="9.9.1"' in listing and "تست" in listing
    response = client.post(f"/firmware/{build.id}/rollout", data={
        "target": "branch", "branch_id": str(central.id), "device_id": ""},
        follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "ساخت 9.9.1 به ۲ پایانه پیشنهاد شد." in page
    assert "به پایانهٔ t04 پیشنهاد نشد: نوع دیگری از ساخت را اجرا می‌کند." in page
    assert [topic for topic, _ in sent] == ["vafa/v1/dev/t01/cmd", "vafa/v1/dev/t02/cmd"]
    body = json.loads(protocol.decode_frame(sent[0][1], bytes.fromhex(
        db.get(Device, "t01").key_hex)))
    assert body["url"] == f"http://shop.example:5000/fw/{build.manifest_sha256}/"
    audits = db.scalars(select(AuditLog).where(AuditLog.action == "terminal_command")).all()
    assert sorted((row.entity_id, row.details["op"], row.details["ver"]) for row in audits) == [
        ("t01", "ota", "9.9.1"), ("t02", "ota", "9.9.1")]
    assert db.get(FirmwareRollout, "t03") is None
    audit_page = client.get("/audit").get_data(as_text=True)
    assert "یک ساخت فرم‌افزار بارگذاری کرد" in audit_page and "ساخت فرم‌افزار" in audit_page

    devices.record_state(db, "t01", json.dumps({"online": True, "fw": "0.3.0", "fwk": "py",
                                                "ota": {"ver": "9.9.1", "st": "downloading",
                                                        "pct": 45}}).encode(), NOW)
    section = client.get("/terminals/t01").get_data(as_text=True).split(
        'id="terminal-firmware"')[1].split("</section>")[0]
    assert "در حال دریافت" in section and "۴۵٪" in section
    devices.record_state(db, "t02", json.dumps({"online": True, "fw": "0.3.0", "fwk": "py",
                                                "ota": {"ver": "9.9.1", "st": "rolled_back",
                                                        "err": "ImportError: boom"}}).encode(),
                         NOW)
    rows = client.get("/terminals").get_data(as_text=True)
    row = rows.split('data-device="t01"')[1].split("</tr>")[0]
    assert 'data-rollout="downloading"' in row and "در حال دریافت" in row and "0.3.0" in row
    row = rows.split('data-device="t02"')[1].split("</tr>")[0]
    assert "به نسخهٔ قبل برگشت" in row and "ImportError: boom" in row
    assert 'data-rollout' not in rows.split('data-device="t03"')[1].split("</tr>")[0]
    page = client.get("/terminals/t02").get_data(as_text=True)
    section = page.split('id="terminal-firmware"')[1].split("</section>")[0]
    assert "به نسخهٔ قبل برگشت" in section and "ImportError: boom" in section
    assert "پیشنهاد دوباره" in section
    assert "فرم‌افزاری پیشنهاد نشده" in client.get("/terminals/t03").get_data(as_text=True)

    sent.clear()
    response = client.post("/terminals/t02/firmware/reoffer", follow_redirects=True)
    assert "ساخت 9.9.1 دوباره پیشنهاد شد." in response.get_data(as_text=True)
    assert [topic for topic, _ in sent] == ["vafa/v1/dev/t02/cmd"]
    assert db.get(FirmwareRollout, "t02").state == "offered"
    # Per version on /metrics.
    metrics = samples(client.get("/metrics").get_data(as_text=True))
    assert metrics[("vafa_terminals_by_firmware", (("kind", "py"), ("version", "0.3.0")))] == 3
    assert metrics[("vafa_terminals_by_firmware", (("kind", "mpy"), ("version", "0.3.0")))] == 1


def test_one_terminal_that_cannot_take_it_is_told_why(client, db, world, sent, tmp_path):
    login(client)
    upload(client, build_tar(tmp_path))
    build = db.scalars(select(FirmwareBuild)).one()
    response = client.post(f"/firmware/{build.id}/rollout", data={
        "target": "terminal", "branch_id": "1", "device_id": "T04"}, follow_redirects=True)
    assert "این پایانه نوع دیگری از ساخت را اجرا می‌کند" in response.get_data(as_text=True)
    assert sent == [] and db.scalars(select(FirmwareRollout)).all() == []
    response = client.post(f"/firmware/{build.id}/rollout", data={
        "target": "terminal", "branch_id": "1", "device_id": "zz-99"}, follow_redirects=True)
    assert "پایانه‌ای با این شناسه نیست." in response.get_data(as_text=True)
    response = client.post(f"/firmware/{build.id}/rollout", data={
        "target": "terminal", "branch_id": "1", "device_id": "t03"}, follow_redirects=True)
    assert "ساخت 9.9.1 به ۱ پایانه پیشنهاد شد." in response.get_data(as_text=True)


def test_files_are_served_without_login_byte_for_byte(client, db, world, tmp_path):
    login(client)
    upload(client, build_tar(tmp_path))
    build = db.scalars(select(FirmwareBuild)).one()
    client.post("/logout")
    response = client.get(f"/fw/{build.manifest_sha256}/manifest.json")
    assert response.status_code == 200 and response.data == build.manifest.encode()
    assert response.headers["Content-Length"] == str(len(build.manifest.encode()))
    response = client.get(f"/fw/{build.manifest_sha256}/files/vafa/app.py")
    assert response.data == FILES["vafa/app.py"]
    assert response.headers["Content-Length"] == str(len(FILES["vafa/app.py"]))
    assert client.get(f"/fw/{build.manifest_sha256}/files/vafa/none.py").status_code == 404
    assert client.get(f"/fw/{build.manifest_sha256}/files/../x").status_code == 404
    assert client.get("/fw/NOTASHA/manifest.json").status_code == 404
    login(client)
    assert client.post(f"/firmware/{build.id}/withdraw").status_code == 302
    assert client.get(f"/fw/{build.manifest_sha256}/manifest.json").status_code == 404


def test_a_broker_that_goes_away_is_said_and_only_what_was_sent_is_kept(client, db, world,
                                                                      tmp_path, monkeypatch):
    from backend.mqtt.publisher import BrokerUnavailable

    sent = []

    def down(topic, frame):  # takes the first cmd, then goes away
        if sent:
            raise BrokerUnavailable("the broker at 127.0.0.1:1 cannot be reached")
        sent.append(topic)

    monkeypatch.setattr("backend.web.admin.firmware._publish", lambda: down)
    central, _ = world
    login(client)
    upload(client, build_tar(tmp_path))
    build = db.scalars(select(FirmwareBuild)).one()
    response = client.post(f"/firmware/{build.id}/rollout", data={
        "target": "branch", "branch_id": str(central.id), "device_id": ""},
        follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "کارگزار پیام در دسترس نیست" in page and "به ۱ پایانه پیشنهاد شد" in page
    assert [row.device_id for row in db.scalars(select(FirmwareRollout))] == ["t01"]
    audits = db.scalars(select(AuditLog).where(AuditLog.action == "terminal_command")).all()
    assert [row.entity_id for row in audits] == ["t01"]


def test_the_pages_in_english(client, db, world, sent, tmp_path):
    login(client)
    upload(client, build_tar(tmp_path))
    build = db.scalars(select(FirmwareBuild)).one()
    client.post(f"/firmware/{build.id}/rollout", data={
        "target": "terminal", "branch_id": "1", "device_id": "t01"})
    devices.record_state(db, "t01", json.dumps({"online": True, "fw": "0.3.0", "fwk": "py",
                                                "ota": {"ver": "9.9.1", "st": "downloading",
                                                        "pct": 45}}).encode(), NOW)
    client.post("/language/en", data={"next": "/firmware"})
    page = client.get("/firmware").get_data(as_text=True)
    assert "Firmware updates" in page and "downloading 1" in page
    section = client.get("/terminals/t01").get_data(as_text=True).split(
        'id="terminal-firmware"')[1].split("</section>")[0]
    assert "downloading" in section and "45%" in section
