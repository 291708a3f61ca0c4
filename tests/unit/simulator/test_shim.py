"""The firmware importable on CPython (simulator/shim.py), checked in a fresh interpreter
so this test session's own imports prove nothing."""

import json
import subprocess
import sys

from simulator import shim

PROBE = """
import json, sys
from simulator import shim
shim.install()
shim.install()  # twice: still one path entry
import micropython
from vafa import protocol
print(json.dumps({"entries": sys.path.count(str(shim.FIRMWARE_DIR)),
                  "const": micropython.const(7), "native": micropython.native(len) is len,
                  "protocol": protocol.__file__}))
"""


def test_install_puts_the_firmware_on_the_path_once_with_a_stand_in_micropython():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60, cwd=shim.FIRMWARE_DIR.parent)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen["entries"], seen["const"], seen["native"]) == (1, 7, True)
    assert seen["protocol"].startswith(str(shim.FIRMWARE_DIR))
