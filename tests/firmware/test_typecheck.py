"""The firmware type-checked against the MicroPython stubs of every supported release.

Each release's `micropython-esp32-stubs==<release>.*` is installed on first use with
`pip install --target` into its own folder under .venv/micropython-stubs/ (a cache, kept
between runs), and basedpyright checks firmware/ with `typeshedPath` and `stubPath` at that
folder, as the stubs' documentation says, and with no Python environment of its own: a
CPython module can never stand in for one the board lacks. This is what finds a module no
stock build has (`ssd1306`), or an argument one release does not take (`PWM(duty=...)`).

The rules are pyright's "standard" set without the reportOptional* family: the app keeps
state in attributes that start as None and are set before the states that use them, which
a checker of untyped code cannot follow; those findings are about our logic, not about the
device's API, and the MicroPython tests cover that logic.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from provisioning import releases

from .conftest import ROOT

FIRMWARE = ROOT / "firmware"
CACHE = ROOT / ".venv" / "micropython-stubs"
BASEDPYRIGHT = Path(sys.executable).with_name("basedpyright")
RULES = {
    "typeCheckingMode": "standard",
    "reportMissingModuleSource": "none",  # stub-only packages: no source, by design
    "reportOptionalMemberAccess": "none",
    "reportOptionalSubscript": "none",
    "reportOptionalIterable": "none",
    "reportOptionalCall": "none",
    "reportOptionalOperand": "none",
    "reportOptionalContextManager": "none",
}

# Where a release's stubs are wrong about the device, checked against the MicroPython
# source at that release's tag: (releases, rule, message start) -> the evidence. Such an
# error is not counted; test_every_stub_gap_is_still_needed fails once nothing produces it.
STUB_GAPS = {
    (("1.22", "1.23"), "reportGeneralTypeIssues",
     'Object of type "BufferedWriter" cannot be used with "with"'):
        "every release's file objects have __enter__/__exit__ (py/stream + the VFS file "
        "types); the 1.22/1.23 io stubs leave them off the binary writer only",
    (("1.22", "1.23"), "reportAttributeAccessIssue",
     'Cannot access attribute "close" for class "BufferedWriter"'):
        "every release's file objects have close() (py/stream); the 1.22/1.23 io stubs "
        "leave it off the binary writer (vafa/ota.py keeps a file open across steps)",
}


def _gap(diagnostic: dict, release: str):
    for key in STUB_GAPS:
        releases_, rule, start = key
        if (release in releases_ and diagnostic.get("rule") == rule
                and diagnostic["message"].startswith(start)):
            return key
    return None


def stubs(release: str) -> Path:
    """The release's stubs folder, installed once (into a temporary folder renamed into
    place, so an interrupted install is never mistaken for a complete one)."""
    target = CACHE / release
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{release}-", dir=CACHE))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-user", "--disable-pip-"
         "version-check", "--target", str(partial), f"micropython-esp32-stubs=={release}.*"],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        pytest.fail(f"cannot install the MicroPython {release} stubs:\n{result.stderr}")
    try:
        partial.rename(target)
    except OSError:  # another run got there first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def typecheck(source_dir: Path, release: str, work: Path) -> list[dict]:
    """basedpyright's error diagnostics for `source_dir` against `release`'s stubs."""
    stub_dir = stubs(release)
    empty_env = work / "no-python" / "lib" / "python3.12" / "site-packages"
    empty_env.mkdir(parents=True, exist_ok=True)
    config = {
        "include": [str(source_dir)],
        "exclude": [str(source_dir / "manifest.py")],
        "typeshedPath": str(stub_dir),
        "stubPath": str(stub_dir),
        "extraPaths": [str(source_dir), str(source_dir / "lib")],
        # An empty environment: no CPython site-packages or stdlib sources on the path.
        "venvPath": str(work),
        "venv": "no-python",
        "pythonVersion": "3.12",
        "pythonPlatform": "Linux",
        **RULES,
    }
    config_path = work / f"pyright-{release}.json"
    config_path.write_text(json.dumps(config))
    assert BASEDPYRIGHT.exists(), "basedpyright missing: `make test` installs the dev extras"
    result = subprocess.run([str(BASEDPYRIGHT), "--project", str(config_path), "--outputjson"],
                            cwd=work, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NODE_OPTIONS": ""})
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"basedpyright failed:\n{result.stdout}\n{result.stderr}")
    assert report["summary"]["filesAnalyzed"] > 0
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


def _listing(errors: list[dict], root: Path) -> str:
    return "\n".join(
        f"{Path(d['file']).relative_to(root)}:{d['range']['start']['line'] + 1}: "
        f"{d['message'].splitlines()[0]} ({d.get('rule', '')})" for d in errors)


@pytest.mark.parametrize("release", releases.RELEASES)
def test_firmware_type_checks_against_the_stubs(release, tmp_path):
    errors = [d for d in typecheck(FIRMWARE, release, tmp_path) if _gap(d, release) is None]
    assert not errors, (f"{len(errors)} errors against MicroPython {release}'s stubs:\n"
                        + _listing(errors, FIRMWARE))


def test_every_stub_gap_is_still_needed(tmp_path):
    used = set()
    for release in sorted({r for key in STUB_GAPS for r in key[0]}):
        for diagnostic in typecheck(FIRMWARE, release, tmp_path / release):
            used.add(_gap(diagnostic, release))
    assert set(STUB_GAPS) <= used, f"no longer needed: {set(STUB_GAPS) - used}"


def test_the_check_finds_what_the_board_lacks(tmp_path):
    """The check can fail: the two faults the issue names, on the newest release."""
    firmware = tmp_path / "firmware"
    firmware.mkdir()
    (firmware / "main.py").write_text(
        "import ssd1306\nfrom machine import PWM, Pin\n\n"
        "buzzer = PWM(Pin(18), freq=2700, duty=0)\n"
        "import hmac\n")
    found = {(d["range"]["start"]["line"] + 1, d.get("rule"))
             for d in typecheck(firmware, "1.29", tmp_path / "work")}
    assert found == {(1, "reportMissingImports"), (4, "reportCallIssue"),
                     (5, "reportMissingImports")}


@pytest.mark.parametrize("release", releases.RELEASES)
def test_the_images_module_lists_match_the_stubs(release):
    """provisioning/micropython_modules.json, which `image` checks imports against."""
    assert releases.builtin_modules(release) == set(releases.modules_from_stubs(
        stubs(release)))
