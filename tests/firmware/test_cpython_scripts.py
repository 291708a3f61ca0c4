"""The same firmware test scripts, run under CPython (with the micropython shim)."""

import runpy

import pytest

from .conftest import MPY_SCRIPTS


@pytest.mark.parametrize("script", MPY_SCRIPTS, ids=lambda p: p.stem)
def test_under_cpython(script, capsys):
    if "# micropython-only" in script.read_text().split("\n", 3)[1]:
        pytest.skip("needs MicroPython's own modules (framebuf)")
    runpy.run_path(str(script), run_name="__main__")
    assert "checks passed" in capsys.readouterr().out
