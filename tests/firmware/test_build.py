"""Firmware build checks: every file compiles with mpy-cross into an .mpy every supported
release loads; the manifest's version and requirements agree with the firmware."""

import ast
import subprocess

import pytest

from bench.firmware import mpy_cross_command
from provisioning import releases

from .conftest import ROOT

FIRMWARE = ROOT / "firmware"
SOURCES = sorted(p for p in FIRMWARE.rglob("*.py") if p.name != "manifest.py")


def _mpy_cross():
    return mpy_cross_command()


def test_sources_found():
    names = {p.relative_to(FIRMWARE).as_posix() for p in SOURCES}
    assert {"main.py", "vafa/app.py", "vafa/hw/esp32.py", "vafa/protocol.py",
            "vafa/journal.py", "vafa/store.py"} <= names


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.relative_to(FIRMWARE).as_posix())
def test_compiles_with_mpy_cross(src, tmp_path):
    r = subprocess.run([*_mpy_cross(), "-o", str(tmp_path / "out.mpy"), str(src)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"mpy-cross failed for {src}:\n{r.stdout}{r.stderr}"
    compiled = (tmp_path / "out.mpy").read_bytes()
    for release in releases.RELEASES:
        assert releases.mpy_problem(compiled, release) is None, release


def _manifest_calls():
    tree = ast.parse((FIRMWARE / "manifest.py").read_text())
    calls = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.setdefault(node.func.id, []).append(node)
    return calls


def test_manifest_version_matches_version_py():
    calls = _manifest_calls()
    (meta,) = calls["metadata"]
    kw = {k.arg: ast.literal_eval(k.value) for k in meta.keywords}
    ns = {}
    exec((FIRMWARE / "vafa" / "version.py").read_text(), ns)
    assert kw["version"] == ns["VERSION"] == "0.2.0"
    assert kw.get("description")
    assert [ast.literal_eval(c.args[0]) for c in calls["package"]] == ["vafa"]
    assert [ast.literal_eval(c.args[0]) for c in calls["module"]] == ["main.py"]


def test_the_manifest_requires_only_what_the_firmware_imports():
    """A required package the firmware no longer imports is flash wasted on every board
    (and `ssd1306` is the firmware's own vafa/hw/ssd1306.py)."""
    imported = set()
    for src in SOURCES:
        imported |= releases.imports_of(src.read_text())
    required = {ast.literal_eval(c.args[0]) for c in _manifest_calls().get("require", [])}
    assert {name.split(".")[0] for name in required} <= imported


def test_every_import_is_in_every_release_or_the_firmware():
    """What `image` checks for the release it builds for, for all of them."""
    own = {p.stem for p in FIRMWARE.iterdir()} | {"vafa"}
    for release in releases.RELEASES:
        assert releases.missing_modules(FIRMWARE, release, own) == {}, release


def test_no_cpython_only_imports():
    banned = {"hmac", "typing", "dataclasses", "pathlib", "enum", "abc", "logging"}
    for src in SOURCES:
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            else:
                continue
            assert not banned & set(names), f"{src}: CPython-only import {names}"
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                pytest.fail(f"{src}: __future__ import")
