"""Firmware updates over the air (issue 16; the contract in docs/protocol.md "OTA").

An admin uploads a build (the tar `provisioning build` writes), checked with the same
validator the firmware's builder uses (provisioning/ota_build.py); its files are kept in
the database and served without login under /fw/<manifest sha256>/ (backend/web/firmware_files.py).
A rollout offers the build to one terminal or to every terminal of a branch by a signed
cmd `ota` (sent like every terminal command, backend/services/terminal_commands.py); each
terminal offered gets a row in `firmware_rollouts`, which its state topic (`ota`) and its
`op:"ota"` request move on (record_state_ota, confirm).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import protocol
from backend.errors import BadRequest, DomainError, NotFound
from backend.models import Branch, Device, FirmwareBuild, FirmwareBuildFile, FirmwareRollout
from backend.unit_of_work import Actor, unit_of_work
from provisioning import ota_build

# A build tar: the manifest and at most 512 KiB of files, plus a 512-byte header and
# padding per member and the tar's end blocks.
MAX_UPLOAD_BYTES = (ota_build.MAX_MANIFEST_SIZE + ota_build.MAX_TOTAL_SIZE
                    + (ota_build.MAX_FILES + 1) * 1024 + 20 * 512)
MAX_NOTE = 200
MAX_LISTED = 50  # builds on the Firmware page, newest first
MAX_DETAIL = 200
OTA_STATES = ("downloading", "installed", "failed", "trial", "running", "rolled_back")
# Why a terminal was not offered a build (RolloutResult.skipped).
SKIP_REASONS = ("kind", "same", "revoked")
# Why an upload was refused (BuildRefused.reason), each with its own sentence on the panel.
REFUSALS = ("empty", "too_large", "not_tar", "bad_manifest", "hash_mismatch", "duplicate",
            "duplicate_version")


class BuildRefused(BadRequest):
    """An uploaded build that is not one: `reason` (REFUSALS) and the validator's detail."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__("build", f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail[:300]


def _refusal_of(error: ota_build.BuildError) -> BuildRefused:
    text = str(error)
    if "not an uncompressed tar" in text:
        return BuildRefused("not_tar", text)
    if "SHA-256 differs" in text or "the manifest says" in text:
        return BuildRefused("hash_mismatch", text)
    if any(word in text for word in ("too large", "at most", " over ", " is not 0–")):
        return BuildRefused("too_large", text)
    return BuildRefused("bad_manifest", text)


def upload_build(session: Session, data: bytes, *, actor: Actor, note: str,
                 now: datetime) -> FirmwareBuild:
    """Check and store an uploaded build, audited `firmware_upload`; BuildRefused names
    what is wrong and nothing is written."""
    with unit_of_work(session, actor) as work:
        build = _store_build(session, data, actor.staff_user_id, note, now)
        work.audit("firmware_upload", "firmware_build", build.id,
                   {"version": build.version, "kind": build.kind,
                    "sha256": build.manifest_sha256})
        return build


def _store_build(session: Session, data: bytes, staff_id: int | None, note: str,
                 now: datetime) -> FirmwareBuild:
    if not data:
        raise BuildRefused("empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise BuildRefused("too_large", f"{len(data)} bytes; at most {MAX_UPLOAD_BYTES}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "build.tar"
        path.write_bytes(data)
        try:
            raw, files = ota_build.read_build(path)
        except ota_build.BuildError as error:
            raise _refusal_of(error) from None
    manifest = json.loads(raw)
    digest = hashlib.sha256(raw).hexdigest()
    if session.scalar(select(FirmwareBuild.id).where(
            FirmwareBuild.manifest_sha256 == digest)) is not None:
        raise BuildRefused("duplicate", digest)
    if session.scalar(select(FirmwareBuild.id).where(
            FirmwareBuild.version == manifest["version"],
            FirmwareBuild.kind == manifest["kind"])) is not None:
        raise BuildRefused("duplicate_version", f"{manifest['version']} ({manifest['kind']})")
    build = FirmwareBuild(version=manifest["version"], kind=manifest["kind"],
                          manifest=raw.decode("utf-8"), manifest_sha256=digest,
                          total_size=sum(entry["size"] for entry in manifest["files"]),
                          file_count=len(manifest["files"]), uploaded_at=now,
                          uploaded_by=staff_id, note=(note or "").strip()[:MAX_NOTE],
                          status="active")
    session.add(build)
    session.flush()
    entries = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    session.add_all(FirmwareBuildFile(build_id=build.id, path=name, sha256=entries[name],
                                      content=content) for name, content in files.items())
    session.flush()
    return build


def list_builds(session: Session,
                limit: int = MAX_LISTED) -> list[tuple[FirmwareBuild, dict[str, int]]]:
    """The newest `limit` builds, with how many terminals are in each rollout state."""
    builds = session.scalars(select(FirmwareBuild).order_by(FirmwareBuild.id.desc())
                             .limit(limit)).all()
    counts: dict[int, dict[str, int]] = {build.id: {} for build in builds}
    for build_id, state, count in session.execute(
            select(FirmwareRollout.build_id, FirmwareRollout.state, func.count())
            .where(FirmwareRollout.build_id.in_(list(counts)))
            .group_by(FirmwareRollout.build_id, FirmwareRollout.state)):
        counts.setdefault(build_id, {})[state] = count
    return [(build, counts[build.id]) for build in builds]


def get_build(session: Session, build_id: int) -> FirmwareBuild:
    build = session.get(FirmwareBuild, build_id)
    if build is None:
        raise NotFound(f"no build {build_id}")
    return build


def withdraw_build(session: Session, build_id: int, *, actor: Actor) -> FirmwareBuild:
    """A withdrawn build is offered to no terminal and no longer served (a terminal still
    downloading it fails and keeps its version). Audited `firmware_withdraw`."""
    with unit_of_work(session, actor) as work:
        build = get_build(session, build_id)
        build.status = "withdrawn"
        work.audit("firmware_withdraw", "firmware_build", build.id, {"version": build.version})
        return build


def served_file(session: Session, manifest_sha256: str, path: str | None) -> bytes | None:
    """The exact bytes of an active build's manifest (`path` None) or of one of its files;
    None when there is no such thing."""
    build = session.scalar(select(FirmwareBuild).where(
        FirmwareBuild.manifest_sha256 == manifest_sha256, FirmwareBuild.status == "active"))
    if build is None:
        return None
    if path is None:
        return build.manifest.encode("utf-8")
    row = session.get(FirmwareBuildFile, (build.id, path))
    return None if row is None else row.content


@dataclass
class RolloutResult:
    build: FirmwareBuild
    offered: list[protocol.Command] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (device id, SKIP_REASONS)
    # The broker did not take a cmd: the terminals from there on were not offered it.
    broker_error: DomainError | None = None


def ota_command(device: Device, build: FirmwareBuild, base_url: str,
                now: datetime) -> protocol.Command:
    """The signed cmd `ota` offering `build` (docs/protocol.md)."""
    body = {"v": protocol.PROTOCOL_VERSION, "id": f"cmd-{secrets.token_hex(6)}",
            "ts": int(now.timestamp()), "op": "ota", "ver": build.version, "kind": build.kind,
            "url": f"{base_url.rstrip('/')}/fw/{build.manifest_sha256}/",
            "sha256": build.manifest_sha256, "size": build.total_size}
    frame = protocol.encode_frame(protocol.encode_body(body), bytes.fromhex(device.key_hex))
    return protocol.Command(device.id, protocol.topic(device.id, "cmd"), body, frame)


def _skip_reason(device: Device, build: FirmwareBuild) -> str | None:
    if device.status != "active":
        return "revoked"
    if device.firmware_kind != build.kind:
        return "kind"
    if device.firmware_version == build.version:
        return "same"
    return None


def roll_out(session: Session, publish: Callable[[str, bytes], None], build_id: int, *,
             base_url: str, now: datetime, actor: Actor, branch_id: int | None = None,
             device_id: str | None = None) -> RolloutResult:
    """_roll_out in one unit of work, with a `terminal_command` audit row per terminal
    offered the build (those offered before a broker error are kept, and committed)."""
    with unit_of_work(session, actor) as work:
        result = _roll_out(session, publish, build_id, base_url=base_url, now=now,
                           branch_id=branch_id, device_id=device_id)
        for command in result.offered:
            work.audit("terminal_command", "device", command.device_id,
                       {"op": "ota", "id": command.body["id"], "ver": command.body["ver"],
                        "sha256": command.body["sha256"]})
        return result


def _roll_out(session: Session, publish: Callable[[str, bytes], None], build_id: int, *,
              base_url: str, now: datetime, branch_id: int | None,
              device_id: str | None) -> RolloutResult:
    """Offer an active build to every terminal of a branch, or to one terminal: only those
    that run the build's kind (as their state said) and another version. Each offered
    terminal's rollout row says `offered` once its cmd was published; `publish` raising
    BrokerUnavailable stops there: the result keeps the error and the terminals already
    sent (their rows stay; the caller reports the error). One terminal
    that cannot take the build is a BadRequest naming why."""
    build = get_build(session, build_id)
    if build.status != "active":
        raise BadRequest("build", "This build was withdrawn.")
    if (branch_id is None) == (device_id is None):
        raise BadRequest("target", "Choose a branch or one terminal.")
    if device_id is not None:
        device = session.get(Device, device_id)
        if device is None:
            raise BadRequest("device_id", "There is no terminal with this id.")
        reason = _skip_reason(device, build)
        if reason is not None:
            raise BadRequest("device_id", {
                "revoked": "This terminal is revoked; it no longer listens.",
                "kind": "This terminal runs another kind of build (or has not said which).",
                "same": "This terminal already runs this version."}[reason])
        targets = [device]
    else:
        if session.get(Branch, branch_id) is None:
            raise BadRequest("branch_id", "Choose a branch.")
        targets = session.scalars(select(Device).where(
            Device.branch_id == branch_id, Device.status == "active").order_by(Device.id)).all()
    result = RolloutResult(build)
    for device in targets:
        reason = _skip_reason(device, build)
        if reason is not None:
            result.skipped.append((device.id, reason))
            continue
        command = ota_command(device, build, base_url, now)
        try:
            publish(command.topic, command.frame)
        except DomainError as error:  # BrokerUnavailable: the rest are not sent
            result.broker_error = error
            break
        _offered(session, device.id, build, now)
        result.offered.append(command)
    session.flush()
    return result


def reoffer(session: Session, publish: Callable[[str, bytes], None], device_id: str, *,
            base_url: str, now: datetime, actor: Actor) -> RolloutResult:
    """Send the terminal's current rollout again (after a failure, or a lost cmd)."""
    with unit_of_work(session, actor):
        row = session.get(FirmwareRollout, device_id)
        if row is None:
            raise BadRequest("device_id", "Nothing was offered to this terminal.")
        return roll_out(session, publish, row.build_id, base_url=base_url, now=now,
                        actor=actor, device_id=device_id)


def _offered(session: Session, device_id: str, build: FirmwareBuild, now: datetime) -> None:
    row = session.get(FirmwareRollout, device_id)
    if row is None:
        row = FirmwareRollout(device_id=device_id)
        session.add(row)
    row.build_id = build.id
    row.state = "offered"
    row.detail = ""
    row.pct = None
    row.offered_at = now
    row.updated_at = now


def rollout_of(session: Session, device_id: str) -> FirmwareRollout | None:
    return session.get(FirmwareRollout, device_id)


def rollouts_of(session: Session, device_ids: list[str]) -> dict[str, FirmwareRollout]:
    if not device_ids:
        return {}
    rows = session.scalars(select(FirmwareRollout).where(
        FirmwareRollout.device_id.in_(device_ids))).all()
    return {row.device_id: row for row in rows}


# ---- the terminal's side (the worker) ---------------------------------------------------


def _build_for(session: Session, device: Device, version: str) -> FirmwareBuild | None:
    """The build a terminal reports about: the one offered to it if the version matches,
    else the build of that version and the terminal's kind (the cmd went out, its row
    did not commit), else None."""
    row = session.get(FirmwareRollout, device.id)
    if row is not None and row.build.version == version:
        return row.build
    if not device.firmware_kind:
        return None
    return session.scalar(select(FirmwareBuild).where(
        FirmwareBuild.version == version, FirmwareBuild.kind == device.firmware_kind))


def record_state_ota(session: Session, device: Device, ota, now: datetime) -> bool:
    """Apply the `ota` object of a terminal's state (docs/protocol.md "State"): its
    rollout row takes the reported step; the caller commits. A malformed object, or one
    about a version no build has, changes nothing (False)."""
    if not isinstance(ota, dict):
        return False
    version, state = ota.get("ver"), ota.get("st")
    if not isinstance(version, str) or not 0 < len(version) <= 24 or state not in OTA_STATES:
        return False
    build = _build_for(session, device, version)
    if build is None:
        return False
    row = session.get(FirmwareRollout, device.id)
    if row is None:
        row = FirmwareRollout(device_id=device.id, build_id=build.id, offered_at=now)
        session.add(row)
    elif row.build_id != build.id:
        return False  # an old report about a build since replaced by a new offer
    error = ota.get("err")
    detail = error[:MAX_DETAIL] if isinstance(error, str) else ""
    pct = ota.get("pct")
    if (row.state, row.detail, row.pct) == (state, detail, pct if type(pct) is int else None):
        return True  # the retained state again: nothing new
    if row.state == "running" and state in ("trial", "installed", "downloading"):
        return True  # the confirmation (op "ota") came before this state
    row.state = state
    row.detail = detail if state in ("failed", "rolled_back") else ""
    row.pct = pct if type(pct) is int and 0 <= pct <= 100 else None
    row.updated_at = now
    return True


def confirm(session: Session, device_id: str, version: str, now: datetime) -> None:
    """A verified `op:"ota"` request from a trial boot: the terminal reached the broker on
    `version`; its rollout row says `running`. The caller commits (with the stored answer)."""
    device = session.get(Device, device_id)
    if device is None:
        return
    build = _build_for(session, device, version)
    if build is None:
        return  # recorded anyway: the answer confirms the terminal, whatever build
    row = session.get(FirmwareRollout, device_id)
    if row is None:
        row = FirmwareRollout(device_id=device_id, build_id=build.id, offered_at=now)
        session.add(row)
    row.build_id = build.id
    row.state = "running"
    row.detail = ""
    row.pct = None
    row.updated_at = now
    device.firmware_version = version

