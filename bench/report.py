"""Targets, the generated part of docs/BENCHMARKS.md and its charts, from a results dict.

Rendering depends only on the results dict, so the same results give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
DOC_PATH = PROJECT_ROOT / "docs" / "BENCHMARKS.md"
IMAGES_DIR = PROJECT_ROOT / "docs" / "images"
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
KIB = 1024
MIB = 1024 * 1024
REPORT_TARGET_PURCHASES = 1_900_000  # the full report dataset (2 M, less rounding)


def _fixed_p99(config: dict | None, rate: float) -> float | None:
    for step in (config or {}).get("fixed", []):
        if step["offered_per_s"] == rate:
            return step["latency_ms"]["p99"]
    return None


def _measured(config: dict | None, key: str):
    if not config or key not in config:
        return None
    return config[key]


def evaluate_targets(results: dict) -> list[dict]:
    """The issue's targets, each {name, target, measured, unit, met}; met is None when
    the measurement is missing (skipped or failed)."""
    configs = results.get("configurations", {})
    extras = results.get("extras", {})
    sqlite = configs.get("sqlite-1")
    echo = configs.get("echo")
    pg_rates = [c["max_sustained_per_s"] for name, c in configs.items()
                if name in ("pg-1", "pg-2", "pg-4") and "max_sustained_per_s" in c]
    worker_rss = [rss for c in configs.values() if c.get("workers")
                  for name, rss in c.get("peak_rss_bytes", {}).items()
                  if name.startswith("worker") and rss is not None]
    sqlite_max = _measured(sqlite, "max_sustained_per_s")
    echo_max = _measured(echo, "max_sustained_per_s")
    firmware = extras.get("firmware") if isinstance(extras.get("firmware"), dict) else {}

    def target(name, limit, measured, unit, at_most):
        met = None if measured is None else (measured <= limit if at_most else measured >= limit)
        return {"name": name, "target": f"{'≤' if at_most else '≥'} {limit:g} {unit}".strip(),
                "limit": limit, "measured": measured, "unit": unit, "met": met}

    share = (round(sqlite_max / echo_max, 3) if sqlite_max is not None and echo_max else None)
    floor = results.get("floor", {})
    reports = extras.get("reports") if isinstance(extras.get("reports"), dict) else {}
    # The report target is about the full dataset (2 M purchases), not the quick one.
    slowest_page = (max((page["best_s"] for page in reports.get("pages", [])), default=None)
                    if reports.get("purchases", 0) >= REPORT_TARGET_PURCHASES else None)
    heap = firmware.get("heap_after_purchase_bytes")
    heap_selling = firmware.get("heap_after_purchase_normal_mode_bytes")
    heap_journal = firmware.get("heap_full_journal_normal_mode_bytes")
    mpy = firmware.get("mpy_total_bytes")
    return [
        target("p99 tap-to-reply at 200/s, SQLite, 1 worker", 10,
               _fixed_p99(sqlite, 200), "ms", True),
        target("sustained with p99 < 100 ms, SQLite", 1500, sqlite_max, "/s", False),
        target("sustained with p99 < 100 ms, PostgreSQL (best of 1/2/4 workers)", 1000,
               max(pg_rates) if pg_rates else None, "/s", False),
        target("worker throughput / echo baseline (SQLite, 1 worker)", 0.15, share, "", False),
        target("worker CPU per purchase ÷ bare-driver floor, SQLite", 3,
               (floor.get("sqlite") or {}).get("cpu_ratio"), "", True),
        target("worker CPU per purchase ÷ bare-driver floor, PostgreSQL", 3,
               (floor.get("postgresql") or {}).get("cpu_ratio"), "", True),
        target("slowest report page at 2 M purchases", 0.5, slowest_page, "s", True),
        target("firmware heap in use after a purchase, every module imported (setup mode's "
               "too)", 48, None if heap is None else round(heap / KIB, 1), "KiB", True),
        target("firmware heap in use after a purchase, as a selling terminal loads it", 48,
               None if heap_selling is None else round(heap_selling / KIB, 1), "KiB", True),
        target("firmware heap in use with a full offline journal, as a selling terminal "
               "loads it", 48, None if heap_journal is None else round(heap_journal / KIB, 1),
               "KiB", True),
        target("all .mpy files together", 64, None if mpy is None else round(mpy / KIB, 1),
               "KiB", True),
        target("worker peak RSS", 150,
               round(max(worker_rss) / MIB, 1) if worker_rss else None, "MiB", True),
    ]


# ---- markdown ------------------------------------------------------------------------

def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _fmt_target(t: dict) -> str:
    return f"{_fmt(t['measured'], 1 if t['unit'] else 2)} {t['unit']}".strip()


def _met(met) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def render(results: dict) -> str:
    """The generated section of docs/BENCHMARKS.md (between the markers)."""
    machine = results["machine"]
    configs = results["configurations"]
    lines = [
        f"Run of {results['date']}{' (quick)' if results['quick'] else ''}: "
        f"{machine['cpu_count']} CPUs, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}, PostgreSQL {machine.get('postgresql') or '–'}, "
        f"Mosquitto {machine.get('mosquitto') or '–'}; "
        f"{results['plan']['terminals']} terminals, {results['plan']['step_s']:g} s per step "
        f"after {results['plan']['warmup_s']:g} s warm-up. Raw numbers: "
        f"`bench/results/{results['date']}{'-quick' if results['quick'] else ''}.json`.",
        "",
        "### Targets",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        lines.append(f"| {t['name']} | {t['target']} | {_fmt_target(t)} | "
                     f"{_met(t['met'])} |")
    lines += ["", "### Maximum sustained rate (p99 < 100 ms, ≥ 97 % of the offered rate "
              "answered, no errors)", "",
              "| configuration | max sustained /s | p99 there (ms) | × echo | × floor | "
              "worker CPU % | broker CPU % | worker peak RSS (MiB) | broker peak RSS (MiB) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, c in configs.items():
        if "skipped" in c or "error" in c:
            why = c.get("skipped") or c.get("error")
            state = "skipped" if "skipped" in c else "failed"
            lines.append(f"| {name} — {c['description']} | {state}: {why} | | | | | | | |")
            continue
        steps = [s for s in c["fixed"] + c["search"]
                 if s["offered_per_s"] == c["max_sustained_per_s"]]
        cpu = steps[0]["cpu_percent"] if steps else {}
        worker_cpu = sum(v for k, v in cpu.items() if k != "broker")
        rss = c["peak_rss_bytes"]
        worker_rss = max((v for k, v in rss.items() if k != "broker" and v), default=None)
        ratio = c.get("ratio_to_echo", {}).get("max_sustained")
        floor_ratio = c.get("ratio_to_floor", {}).get("max_sustained")
        lines.append(
            f"| {name} — {c['description']} | {_fmt(c['max_sustained_per_s'])} | "
            f"{_fmt(c['max_sustained_p99_ms'])} | {'1' if name == 'echo' else _fmt(ratio, 2)} | "
            f"{_fmt(floor_ratio, 2)} | "
            f"{_fmt(worker_cpu) if steps else '–'} | {_fmt(cpu.get('broker'))} | "
            f"{_fmt(None if worker_rss is None else worker_rss / MIB)} | "
            f"{_fmt(None if rss.get('broker') is None else rss['broker'] / MIB)} |")
    rates = results["plan"]["fixed_rates"]
    lines += ["", "### Tap-to-reply latency at fixed offered rates (ms)", "",
              "| configuration | offered /s | achieved /s | p50 | p95 | p99 | max | "
              "p99 × echo | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, c in configs.items():
        if "fixed" not in c:
            continue
        for s in c["fixed"]:
            lat = s["latency_ms"]
            ratio = c.get("ratio_to_echo", {}).get(f"p99_at_{s['offered_per_s']:g}")
            lines.append(
                f"| {name} | {_fmt(s['offered_per_s'])} | {_fmt(s['achieved_per_s'])} | "
                f"{_fmt(lat['p50'])} | {_fmt(lat['p95'])} | {_fmt(lat['p99'])} | "
                f"{_fmt(lat['max'])} | {'1' if name == 'echo' else _fmt(ratio, 2)} | "
                f"{s['errors']} |")
    lines += ["", f"Offered rates: {', '.join(str(r) for r in rates)} purchases/s.", ""]
    lines += _render_floor(results.get("floor", {}))
    lines += _render_extras(results.get("extras", {}))
    lines += ["![p99 latency by offered rate](images/bench-latency.svg)", "",
              "![maximum sustained rate](images/bench-throughput.svg)"]
    return "\n".join(lines) + "\n"


def _render_floor(floor: dict) -> list[str]:
    """The bare-driver floor (bench/floor.py) next to the real path, per database."""
    if not floor:
        return []
    lines = ["### The floor: the same purchase on the bare driver (bench/floor.py)", "",
             "Each purchase's statements captured from the real path and replayed on "
             "`sqlite3` / psycopg with the same durability, HMAC and JSON, one connection, "
             "in process; the real path is `Worker.handle` on the same database, same "
             "count. \"× floor\" above is a configuration's maximum sustained rate divided "
             "by the floor's purchases/s on its database.", "",
             "| database | statements | real CPU µs | floor CPU µs | CPU × floor | "
             "real wall µs | floor wall µs | floor purchases/s |",
             "|---|---|---|---|---|---|---|---|"]
    for name, f in floor.items():
        if "floor" not in f:
            lines.append(f"| {name} | {'skipped' if 'skipped' in f else 'failed'}: "
                         f"{f.get('skipped') or f.get('error')} | | | | | | |")
            continue
        lines.append(f"| {name} | {f['statements']} | {_fmt(f['real']['cpu_us'])} | "
                     f"{_fmt(f['floor']['cpu_us'])} | {_fmt(f['cpu_ratio'], 2)} | "
                     f"{_fmt(f['real']['wall_us'])} | {_fmt(f['floor']['wall_us'])} | "
                     f"{_fmt(f['floor']['per_s'])} |")
    return lines + [""]


def _render_extras(extras: dict) -> list[str]:
    lines = []
    if "skipped" in extras:
        return [f"Firmware, reports and member import: not measured ({extras['skipped']}).",
                ""]
    firmware = extras.get("firmware", {})
    lines += ["### Firmware (MicroPython WebAssembly port)", ""]
    if "error" in firmware or not firmware:
        lines += [f"Not measured: {firmware.get('error', 'missing')}", ""]
    else:
        lines += ["| measure | bytes |", "|---|---|",
                  f"| heap in use after importing all modules | "
                  f"{_fmt(firmware.get('heap_after_import_bytes'))} |",
                  f"| heap in use after one purchase | "
                  f"{_fmt(firmware.get('heap_after_purchase_bytes'))} |",
                  f"| heap in use after one purchase, without setup mode's modules "
                  f"(a selling terminal) | "
                  f"{_fmt(firmware.get('heap_after_purchase_normal_mode_bytes'))} |",
                  f"| heap in use with a full offline journal "
                  f"({_fmt(firmware.get('journal_entries'))} entries, "
                  f"{_fmt(firmware.get('journal_bytes'))} B), a selling terminal | "
                  f"{_fmt(firmware.get('heap_full_journal_normal_mode_bytes'))} |",
                  f"| all .mpy files | {_fmt(firmware.get('mpy_total_bytes'))} |"]
        for name, size in sorted(firmware.get("mpy_files", {}).items()):
            lines.append(f"| `{name}` | {_fmt(size)} |")
        lines.append("")
    reports = extras.get("reports", {})
    lines += ["### Report pages", ""]
    if "error" in reports or not reports:
        lines += [f"Not measured: {reports.get('error', 'missing')}", ""]
    else:
        lines += [f"{_fmt(reports.get('members'))} members, {_fmt(reports.get('purchases'))} "
                  f"purchases (seeded in {_fmt(reports.get('seed_s'))} s).", "",
                  "| page | best (s) | median (s) |", "|---|---|---|"]
        for page in reports.get("pages", []):
            lines.append(f"| `{page['path']}` | {_fmt(page['best_s'], 3)} | "
                         f"{_fmt(page['median_s'], 3)} |")
        lines.append("")
    member_import = extras.get("member_import", {})
    lines += ["### Member import (xlsx)", ""]
    if "error" in member_import or not member_import:
        lines += [f"Not measured: {member_import.get('error', 'missing')}", ""]
    else:
        lines += [f"{_fmt(member_import.get('rows'))} rows in "
                  f"{_fmt(member_import.get('total_s'), 2)} s.", "",
                  "| step | seconds |", "|---|---|"]
        for step, seconds in member_import.get("steps", {}).items():
            lines.append(f"| {step} | {_fmt(seconds, 2)} |")
        lines.append("")
    return lines


def update_doc(text: str, generated: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"docs/BENCHMARKS.md lacks the {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


# ---- charts --------------------------------------------------------------------------

def write_charts(results: dict, images_dir: Path = IMAGES_DIR) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "vafa-bench"  # stable ids: reruns diff cleanly
    configs = {name: c for name, c in results["configurations"].items() if "fixed" in c}
    images_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    figure, axes = plt.subplots(figsize=(7, 4))
    for name, c in configs.items():
        steps = sorted(c["fixed"] + c["search"], key=lambda s: s["offered_per_s"])
        points = [(s["offered_per_s"], s["latency_ms"]["p99"]) for s in steps
                  if s["latency_ms"]["p99"] is not None]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=name)
    axes.axhline(100, color="grey", linestyle="--", linewidth=1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered purchases/s")
    axes.set_ylabel("p99 tap-to-reply (ms)")
    axes.set_title("p99 latency by offered rate")
    axes.legend(fontsize="small")
    figure.tight_layout()
    path = images_dir / "bench-latency.svg"
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    paths.append(path)

    figure, axes = plt.subplots(figsize=(7, 4))
    names = list(configs)
    axes.barh(names, [configs[n]["max_sustained_per_s"] for n in names])
    axes.invert_yaxis()
    axes.set_xlabel("max sustained purchases/s (p99 < 100 ms)")
    axes.set_title("Maximum sustained rate")
    figure.tight_layout()
    path = images_dir / "bench-throughput.svg"
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    paths.append(path)
    return paths


def results_path(results: dict, directory: Path = RESULTS_DIR) -> Path:
    return directory / f"{results['date']}{'-quick' if results['quick'] else ''}.json"


def write_results(results: dict, directory: Path = RESULTS_DIR) -> Path:
    path = results_path(results, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return path


def write_docs(results: dict, doc_path: Path = DOC_PATH, images_dir: Path = IMAGES_DIR) -> None:
    doc_path.write_text(update_doc(doc_path.read_text(), render(results)))
    write_charts(results, images_dir)


def summary_lines(results: dict) -> list[str]:
    lines = []
    for name, c in results["configurations"].items():
        if "skipped" in c:
            lines.append(f"{name:16} SKIPPED: {c['skipped']}")
        elif "error" in c:
            lines.append(f"{name:16} FAILED: {c['error']}")
        else:
            ratio = c.get("ratio_to_echo", {}).get("max_sustained")
            floor_ratio = c.get("ratio_to_floor", {}).get("max_sustained")
            lines.append(f"{name:16} max sustained {c['max_sustained_per_s']:>6}/s "
                         f"(p99 {c['max_sustained_p99_ms']} ms)"
                         + (f", {ratio:.2f} × echo" if ratio is not None else "")
                         + (f", {floor_ratio:.2f} × floor" if floor_ratio is not None
                            else ""))
    for t in results["targets"]:
        lines.append(f"target {_met(t['met']):13} {t['name']}: {t['target']}, measured "
                     f"{_fmt_target(t)}")
    return lines
