import shutil

import pytest

from bench import firmware

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def test_measure_covers_every_module_and_a_purchase():
    result = firmware.measure(quick=True)
    sources = {p.relative_to(firmware.FIRMWARE).as_posix() for p in firmware.firmware_sources()}
    assert set(result["mpy_files"]) == sources
    assert {"main.py", "vafa/app.py", "vafa/hw/esp32.py"} <= sources
    assert all(size > 0 for size in result["mpy_files"].values())
    assert result["mpy_total_bytes"] == sum(result["mpy_files"].values())
    assert set(result["heap_import_by_module_bytes"]) == set(firmware.vafa_modules())
    after_import = result["heap_after_import_bytes"]
    after_purchase = result["heap_after_purchase_bytes"]
    assert isinstance(after_import, int) and isinstance(after_purchase, int)
    assert result["heap_baseline_bytes"] < after_import < 1024 * 1024
    assert after_purchase >= after_import - 4096
    assert result["micropython_version"] >= "1.22"
    # The interned-string pools of the selling terminal's run, read from qstr_info().
    assert result["qstr_pools_normal_mode"] >= 1
    qstr_bytes = result["qstr_pool_bytes_normal_mode"]
    assert 0 < qstr_bytes < result["heap_after_purchase_normal_mode_bytes"]


def test_modules_come_after_what_they_import():
    order = firmware.vafa_modules()
    assert order.index("vafa.protocol") < order.index("vafa.app")
    assert order.index("vafa.hw") < order.index("vafa.hw.esp32")
    assert order.index("vafa.store") < order.index("vafa.journal")
    assert order[0] == "vafa"


def test_a_selling_terminal_loads_no_on_demand_module_at_import():
    """The selling terminal's figure leaves out the on-demand modules: no module it holds
    imports one at its top (vafa.app imports them inside the methods that need them)."""
    held = [m for m in firmware.vafa_modules() if m not in firmware.NOT_SELLING_MODULES]
    assert {"vafa.app", "vafa.start", "vafa.journal", "vafa.mqtt"} <= set(held)
    for src in firmware.firmware_sources():
        rel = src.relative_to(firmware.FIRMWARE).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        if name in held or name == "main":
            assert not firmware._module_imports(src) & firmware.NOT_SELLING_MODULES, name
