"""Firmware updates over the air at the service (issue 16, OTA): a build is checked with
provisioning's validator and every bad one is refused with its reason and nothing
written; a rollout offers a signed cmd `ota` to the terminals of a branch that run the
build's kind and another version; the terminal's state and its `op:"ota"` confirmation
move its rollout row on, with no ledger row and the same bytes on a retry."""

import hashlib
import io
import json
import tarfile

import pytest
from sqlalchemy import func, select

from backend import protocol
from backend.errors import BadRequest
from backend.models import (
    Device,
    FirmwareBuild,
    FirmwareBuildFile,
    FirmwareRollout,
    LedgerTransaction,
    TerminalRequest,
)
from backend.mqtt.publisher import BrokerUnavailable
from backend.services import devices, firmware_builds, terminal
from backend.unit_of_work import SYSTEM
from provisioning import ota_build
from tests import factories
from tests.conftest import NOW

BASE = "https://vafa.example:8443"
FILES = {"vafa/app.py": b"print('app')\n", "vafa/version.py": b'VERSION = "9.9.1"\n'}


def build_tar(tmp_path, version="9.9.1", kind="py", files=None, name="b.tar") -> bytes:
    path = tmp_path / name
    ota_build.write_build(path, files or FILES, version=version, kind=kind)
    return path.read_bytes()


def tar_of(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def manifest_of(files: dict[str, bytes], version="9.9.1", kind="py") -> bytes:
    return ota_build.manifest_bytes({"format": 1, "version": version, "kind": kind, "files": [
        {"path": path, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
        for path, content in sorted(files.items())]})


def state(db, device_id, **fields):
    body = {"online": True, "fw": "0.3.0", "fwk": "py", "queued": 0, "ts": 1, **fields}
    assert devices.record_state(db, device_id, json.dumps(body).encode(), NOW)


@pytest.fixture
def fleet(db):
    factories.club(db)
    a, b = factories.branch(db, name="A"), factories.branch(db, name="B")
    for device_id, branch in (("t-a1", a), ("t-a2", a), ("t-a3", a), ("t-b1", b)):
        factories.device(db, device_id=device_id, branch_id=branch.id)
    state(db, "t-a1")
    state(db, "t-a2")
    state(db, "t-a3", fwk="mpy")  # a board: another kind
    state(db, "t-b1")
    return a, b


def test_upload_stores_the_exact_bytes_under_the_manifest_sha256(db, tmp_path):
    data = build_tar(tmp_path)
    build = firmware_builds.upload_build(db, data, actor=SYSTEM, note=" first ", now=NOW)
    raw = manifest_of(FILES)
    assert build.manifest_sha256 == hashlib.sha256(raw).hexdigest()
    assert (build.version, build.kind, build.total_size, build.file_count, build.note) == (
        "9.9.1", "py", sum(map(len, FILES.values())), 2, "first")
    assert firmware_builds.served_file(db, build.manifest_sha256, None) == raw
    assert firmware_builds.served_file(db, build.manifest_sha256, "vafa/app.py") == FILES[
        "vafa/app.py"]
    assert firmware_builds.served_file(db, build.manifest_sha256, "vafa/nope.py") is None
    assert firmware_builds.served_file(db, "0" * 64, None) is None


@pytest.mark.parametrize(("make", "reason"), [
    (lambda tmp: b"", "empty"),
    (lambda tmp: b"PK\x03\x04 not a tar at all" * 40, "not_tar"),
    (lambda tmp: tar_of([("files/vafa/app.py", b"x"), ("manifest.json", b"{}")]),
     "bad_manifest"),
    (lambda tmp: tar_of([("manifest.json", b'{"format":1}')]), "bad_manifest"),
    (lambda tmp: tar_of([("manifest.json", manifest_of(FILES)),
                         ("files/vafa/app.py", b"print('evil')\n"),
                         ("files/vafa/version.py", FILES["vafa/version.py"])]),
     "hash_mismatch"),
    (lambda tmp: b"\0" * (firmware_builds.MAX_UPLOAD_BYTES + 1), "too_large"),
    (lambda tmp: tar_of([("manifest.json", manifest_of({"vafa/big.py": b"x" * 100_000})),
                         ("files/vafa/big.py", b"x" * 100_000)]), "too_large"),
])
def test_a_bad_build_is_refused_with_its_reason_and_nothing_is_written(db, tmp_path, make,
                                                                       reason):
    with pytest.raises(firmware_builds.BuildRefused) as refused:
        firmware_builds.upload_build(db, make(tmp_path), actor=SYSTEM, note="", now=NOW)
    assert refused.value.reason == reason
    assert db.scalar(select(func.count()).select_from(FirmwareBuild)) == 0
    assert db.scalar(select(func.count()).select_from(FirmwareBuildFile)) == 0


def test_duplicates_are_refused(db, tmp_path):
    firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="", now=NOW)
    with pytest.raises(firmware_builds.BuildRefused) as same:
        firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="", now=NOW)
    assert same.value.reason == "duplicate"
    other = build_tar(tmp_path, files={**FILES, "vafa/extra.py": b"x = 1\n"}, name="c.tar")
    with pytest.raises(firmware_builds.BuildRefused) as version:
        firmware_builds.upload_build(db, other, actor=SYSTEM, note="", now=NOW)
    assert version.value.reason == "duplicate_version"
    # The same version of the other kind is another build.
    firmware_builds.upload_build(db, build_tar(tmp_path, kind="mpy", name="d.tar"),
                                 actor=SYSTEM, note="", now=NOW)


def test_rollout_to_a_branch_offers_its_terminals_of_the_kind_by_signed_cmd(db, tmp_path,
                                                                             fleet):
    a, _ = fleet
    build = firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="",
                                         now=NOW)
    sent = []
    result = firmware_builds.roll_out(db, lambda topic, frame: sent.append((topic, frame)),
                                      build.id, base_url=BASE + "/", now=NOW, actor=SYSTEM,
                                      branch_id=a.id)
    assert [topic for topic, _ in sent] == ["vafa/v1/dev/t-a1/cmd", "vafa/v1/dev/t-a2/cmd"]
    assert result.skipped == [("t-a3", "kind")]
    key = bytes.fromhex(db.get(Device, "t-a1").key_hex)
    body = json.loads(protocol.decode_frame(sent[0][1], key))
    assert body == {"v": 1, "id": body["id"], "ts": int(NOW.timestamp()), "op": "ota",
                    "ver": "9.9.1", "kind": "py",
                    "url": f"{BASE}/fw/{build.manifest_sha256}/",
                    "sha256": build.manifest_sha256, "size": build.total_size}
    assert body["id"].startswith("cmd-")
    rows = db.scalars(select(FirmwareRollout).order_by(FirmwareRollout.device_id)).all()
    assert [(row.device_id, row.state) for row in rows] == [("t-a1", "offered"),
                                                             ("t-a2", "offered")]
    assert db.get(FirmwareRollout, "t-b1") is None


def test_one_terminal_is_refused_with_the_reason(db, tmp_path, fleet):
    build = firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="",
                                         now=NOW)
    state(db, "t-a2", fw="9.9.1")
    publish = pytest.fail  # nothing may be sent
    for device_id, text in (("t-a3", "another kind"), ("t-a2", "already runs")):
        with pytest.raises(BadRequest, match=text):
            firmware_builds.roll_out(db, publish, build.id, base_url=BASE, now=NOW, actor=SYSTEM,
                                     device_id=device_id)
    firmware_builds.withdraw_build(db, build.id, actor=SYSTEM)
    with pytest.raises(BadRequest, match="withdrawn"):
        firmware_builds.roll_out(db, publish, build.id, base_url=BASE, now=NOW, actor=SYSTEM,
                                 device_id="t-a1")
    assert firmware_builds.served_file(db, build.manifest_sha256, None) is None
    assert db.scalar(select(func.count()).select_from(FirmwareRollout)) == 0


def test_a_broker_fault_keeps_only_the_rows_of_cmds_that_went_out(db, tmp_path, fleet):
    a, _ = fleet
    build = firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="",
                                         now=NOW)
    sent = []

    def publish(topic, frame):
        if sent:
            raise BrokerUnavailable("down")
        sent.append(topic)

    result = firmware_builds.roll_out(db, publish, build.id, base_url=BASE, now=NOW, actor=SYSTEM,
                                      branch_id=a.id)
    assert isinstance(result.broker_error, BrokerUnavailable)
    assert [command.device_id for command in result.offered] == ["t-a1"]
    assert [row.device_id for row in db.scalars(select(FirmwareRollout))] == ["t-a1"]


def test_state_moves_the_rollout_row_and_confirmation_says_running(db, tmp_path, fleet):
    build = firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="",
                                         now=NOW)
    firmware_builds.roll_out(db, lambda *_: None, build.id, base_url=BASE, now=NOW, actor=SYSTEM,
                             device_id="t-a1")
    state(db, "t-a1", ota={"ver": "9.9.1", "st": "downloading", "pct": 40})
    row = db.get(FirmwareRollout, "t-a1")
    assert (row.state, row.pct) == ("downloading", 40)
    state(db, "t-a1", ota={"ver": "9.9.1", "st": "failed", "err": "vafa/app.py: sha256"})
    assert (row.state, row.detail) == ("failed", "vafa/app.py: sha256")
    state(db, "t-a1", ota={"ver": "0.0.0", "st": "running"})  # no such build: ignored
    state(db, "t-a1", ota={"ver": "9.9.1", "st": "exploded"})  # not a state: ignored
    state(db, "t-a1", ota="junk")
    assert row.state == "failed"
    # A report about another build than the one offered (an old one) changes nothing.
    firmware_builds.upload_build(db, build_tar(tmp_path, version="9.9.3", name="n.tar"),
                                 actor=SYSTEM, note="", now=NOW)
    state(db, "t-a1", ota={"ver": "9.9.3", "st": "running"})
    assert (row.state, row.build.version) == ("failed", "9.9.1")

    # The trial boot confirms by a signed req op "ota": answered, stored, no ledger row.
    body = json.dumps({"v": 1, "id": "ota-1", "seq": 5, "ts": 1, "op": "ota", "st": "trial",
                       "ver": "9.9.1"}).encode()
    request = protocol.parse_request(body)
    first = terminal.answer(db, "t-a1", request, NOW)
    assert json.loads(first) == {"v": 1, "id": "ota-1", "ok": True, "code": "OK", "msg": "",
                                 "ts": int(NOW.timestamp())}
    db.expire_all()
    row = db.get(FirmwareRollout, "t-a1")
    assert row.state == "running" and db.get(Device, "t-a1").firmware_version == "9.9.1"
    assert terminal.answer(db, "t-a1", request, NOW.replace(minute=59)) == first
    stored = db.scalars(select(TerminalRequest).where(TerminalRequest.device_id == "t-a1")).all()
    assert [(r.op, r.code, r.ledger_transaction_id, r.card_number) for r in stored] == [
        ("ota", "OK", None, None)]
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
    # A later retained state still saying "trial" does not undo the confirmation.
    state(db, "t-a1", fw="9.9.1", ota={"ver": "9.9.1", "st": "trial"})
    assert db.get(FirmwareRollout, "t-a1").state == "running"


def test_rolled_back_shows_the_error_and_a_reoffer_sends_again(db, tmp_path, fleet):
    build = firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="",
                                         now=NOW)
    firmware_builds.roll_out(db, lambda *_: None, build.id, base_url=BASE, now=NOW, actor=SYSTEM,
                             device_id="t-a2")
    state(db, "t-a2", ota={"ver": "9.9.1", "st": "rolled_back", "err": "ImportError: boom"})
    row = db.get(FirmwareRollout, "t-a2")
    assert (row.state, row.detail) == ("rolled_back", "ImportError: boom")
    sent = []
    firmware_builds.reoffer(db, lambda topic, frame: sent.append(topic), "t-a2", base_url=BASE,
                            now=NOW, actor=SYSTEM)
    assert sent == ["vafa/v1/dev/t-a2/cmd"] and (row.state, row.detail) == ("offered", "")
    with pytest.raises(BadRequest, match="Nothing was offered"):
        firmware_builds.reoffer(db, lambda *_: None, "t-b1", base_url=BASE, now=NOW, actor=SYSTEM)


@pytest.mark.parametrize("body", [
    {"st": "trial"},
    {"st": "running", "ver": "9.9.1"},
    {"st": "trial", "ver": "bad version!"},
    {"st": "trial", "ver": "9.9.1", "card": "9900010000000019"},
    {"st": "trial", "ver": "9.9.1", "amount": 5},
])
def test_an_ota_request_is_validated_without_card_or_amount(body):
    raw = json.dumps({"v": 1, "id": "ota-2", "seq": 3, "ts": 1, "op": "ota", **body}).encode()
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.parse_request(raw)
    assert error.value.code == "BAD_REQUEST" and error.value.request_id == "ota-2"


def test_a_report_for_a_build_without_its_row_creates_it(db, tmp_path, fleet):
    """The cmd went out but its row did not commit (a broker fault mid-rollout): the
    terminal's report of the build's version and its kind records it anyway."""
    firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="", now=NOW)
    state(db, "t-b1", ota={"ver": "9.9.1", "st": "downloading", "pct": 10})
    row = db.get(FirmwareRollout, "t-b1")
    assert (row.state, row.pct, row.build.version) == ("downloading", 10, "9.9.1")
    state(db, "t-a3", fwk="mpy", ota={"ver": "9.9.1", "st": "downloading"})  # not its kind
    assert db.get(FirmwareRollout, "t-a3") is None
