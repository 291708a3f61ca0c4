"""Run the firmware test scripts (tests/firmware/mpy/test_*.py) under the real MicroPython
interpreter: the WebAssembly port from npm, driven by run_micropython.mjs."""

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import MPY_SCRIPTS, ROOT

RUNNER = Path(__file__).resolve().parent / "run_micropython.mjs"
PKG = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _require_package():
    if not (PKG / "micropython.mjs").is_file():
        pytest.fail(
            "MicroPython WebAssembly package missing: run `npm ci` in the repository root "
            f"(expected {PKG})"
        )


def _run(*scripts):
    return subprocess.run(
        [NODE, str(RUNNER), *map(str, scripts)], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )


def test_scripts_found():
    names = {p.name for p in MPY_SCRIPTS}
    assert {"test_card.py", "test_protocol.py", "test_app.py", "test_journal.py",
            "test_app_more.py", "test_store_net_scan.py"} <= names


@pytest.mark.parametrize("script", MPY_SCRIPTS, ids=lambda p: p.stem)
def test_under_micropython(script):
    _require_package()
    r = _run(script)
    assert r.returncode == 0, f"{script.name} failed under MicroPython:\n{r.stdout}\n{r.stderr}"
    assert f"PASS {script.name}" in r.stdout
    assert "MicroPython" not in r.stderr


def test_runner_reports_failure(tmp_path):
    _require_package()
    bad = tmp_path / "test_bad.py"
    bad.write_text("import sys\nassert sys.implementation.name == 'micropython'\n"
                   "raise ValueError('boom')\n")
    r = _run(bad)
    assert r.returncode != 0
    assert "ValueError: boom" in r.stderr


def test_really_micropython(tmp_path):
    _require_package()
    s = tmp_path / "test_impl.py"
    s.write_text("import sys\nassert sys.implementation.name == 'micropython', sys.implementation\n"
                 "assert sys.implementation.version >= (1, 22, 0)\n"
                 "import vafa.protocol\nprint('impl ok')\n")
    r = _run(s)
    assert r.returncode == 0, r.stderr
    assert "impl ok" in r.stdout
