import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MPY_DIR = Path(__file__).resolve().parent / "mpy"
MPY_SCRIPTS = sorted(MPY_DIR.glob("test_*.py"))

# CPython view of the firmware: the simulator's shim puts firmware/ on sys.path and
# provides the micropython module; the MicroPython test helpers live in mpy/lib.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import simulator  # noqa: E402,F401  (installs the shim)

if str(MPY_DIR / "lib") not in sys.path:
    sys.path.insert(0, str(MPY_DIR / "lib"))


@pytest.fixture
def key():
    return bytes(range(32))

# The scripts in mpy/ are run by test_micropython.py / test_cpython_scripts.py, not
# collected as pytest modules.
collect_ignore_glob = ["mpy/*"]
