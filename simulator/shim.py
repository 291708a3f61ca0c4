"""Make the MicroPython firmware importable on CPython.

Puts ``firmware/`` on ``sys.path`` and provides a minimal ``micropython`` module
(``const`` and the code-emitter decorators) when the real one is absent.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware"


def _identity(x):
    return x


def install() -> None:
    fw = str(FIRMWARE_DIR)
    if fw not in sys.path:
        sys.path.insert(0, fw)
    if "micropython" not in sys.modules:
        mod = types.ModuleType("micropython")
        mod.const = _identity
        mod.native = _identity
        mod.viper = _identity
        mod.__doc__ = "CPython stand-in for MicroPython's micropython module."
        sys.modules["micropython"] = mod
