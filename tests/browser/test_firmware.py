"""OTA in a real browser at desktop size: an admin uploads a firmware build on the
Firmware page and rolls it out to a branch; the branch's terminals of that kind are
offered it by signed cmds (the publisher is captured: this server has no broker), and the
Terminals page shows them `offered` in Persian."""

import json
from datetime import UTC, datetime

from sqlalchemy import select

from backend import protocol
from backend.extensions import db
from backend.models import Branch, Device, FirmwareRollout
from backend.services import devices
from backend.unit_of_work import SYSTEM
from provisioning import ota_build
from tests.browser.conftest import screenshot, sign_in


def test_admin_uploads_a_build_and_rolls_it_out_to_a_branch(page, live_server, tmp_path,
                                                           monkeypatch):
    sent = []
    monkeypatch.setattr("backend.web.admin.firmware._publish",
                        lambda: lambda topic, frame: sent.append((topic, frame)))
    with live_server.app.app_context():
        branch = db.session.scalars(select(Branch).where(Branch.code == "central")).one()
        for device_id in ("fw81", "fw82"):
            devices.register_device(db.session, actor=SYSTEM, device_id=device_id,
                                    branch_id=branch.id)
        for device_id in ("fw81", "fw82"):
            devices.record_state(db.session, device_id, json.dumps(
                {"online": True, "fw": "0.3.0", "fwk": "py", "queued": 0}).encode(),
                datetime.now(UTC))
        keys = {device_id: bytes.fromhex(db.session.get(Device, device_id).key_hex)
                for device_id in ("fw81", "fw82")}
        branch_id = branch.id
        db.session.remove()
    tar = tmp_path / "vafa-9.9.7.tar"
    ota_build.write_build(tar, {"vafa/app.py": b"x = 1\n"}, version="9.9.7", kind="py")

    sign_in(page, live_server, "admin", "admin1234")
    page.click("nav a[href='/firmware']")
    page.wait_for_selector("#firmware-upload")
    # A wrong file first: the error says why, at the field.
    bad = tmp_path / "notes.tar"
    bad.write_bytes(b"not a build" * 50)
    page.set_input_files("#build", str(bad))
    page.click("#firmware-upload button.primary")
    page.wait_for_selector("[data-error-for='build']")
    assert "tar فشرده‌نشده نیست" in page.inner_text("[data-error-for='build']")

    page.set_input_files("#build", str(tar))
    page.fill("#note", "آزمایش شعبه")
    page.click("#firmware-upload button.primary")
    row = page.locator("tr[data-build='9.9.7']")
    row.wait_for()
    assert "آزمایش شعبه" in row.inner_text()
    row.locator("select[name='target']").select_option("branch")
    row.locator("select[name='branch_id']").select_option(str(branch_id))
    row.locator("form.rollout button.primary").click()
    page.wait_for_selector("p.flash.success")
    assert "ساخت 9.9.7 به ۲ پایانه پیشنهاد شد." in page.inner_text("main")
    assert "پیشنهاد شد ۲" in page.inner_text("tr[data-build='9.9.7'] [data-field='rollout']")
    screenshot(page, "firmware-rollout-fa")

    assert sorted(topic for topic, _ in sent) == ["vafa/v1/dev/fw81/cmd",
                                                  "vafa/v1/dev/fw82/cmd"]
    for topic, frame in sent:
        body = json.loads(protocol.decode_frame(frame, keys[topic.split("/")[3]]))
        assert (body["op"], body["ver"], body["kind"]) == ("ota", "9.9.7", "py")
    page.goto(f"{live_server.url}/terminals")
    for device_id in ("fw81", "fw82"):
        cell = page.inner_text(f"tr[data-device='{device_id}'] [data-field='firmware']")
        assert "0.3.0" in cell and "پیشنهاد شد" in cell and "9.9.7" in cell
    with live_server.app.app_context():
        states = {row.device_id: row.state for row in db.session.scalars(
            select(FirmwareRollout))}
        db.session.remove()
    assert states["fw81"] == states["fw82"] == "offered"
