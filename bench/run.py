"""The benchmark run: configurations, offered rates, the maximum-sustained search, the
echo baseline, the extras (firmware, reports, member import) and the results dict.

`bench.report` turns the results into the targets list, docs/BENCHMARKS.md and charts.
"""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import procstats
from bench.stack import BenchStack, postgres_server_url, postgres_unreachable_reason
from simulator.load import LoadGenerator, Workload

P99_LIMIT_MS = 100.0  # "maximum sustained": p99 under this ...
MIN_ACHIEVED_SHARE = 0.97  # ... and at least this share of the offered rate answered


REFINE_RATIO = 1.1  # the search stops when its bracket is this narrow ...
MIN_SEARCH_RATE = 5  # ... or its failing end this low (per second)


class RateSearch:
    """The maximum-sustained search after the fixed rates: up from the highest passing
    rate by `factor` until a step fails, then bisecting (geometric mean) between the
    highest passing and the lowest failing rate until they are within REFINE_RATIO; at
    most `max_steps` steps. When every fixed rate fails it bisects below the lowest."""

    def __init__(self, fixed: list[dict], factor: float, max_steps: int):
        assert fixed and factor > 1 and max_steps >= 0
        self.passing = max((s["offered_per_s"] for s in fixed if s["sustained"]), default=0)
        above = [s["offered_per_s"] for s in fixed
                 if not s["sustained"] and s["offered_per_s"] > self.passing]
        self.failing = min(above, default=None)
        self.factor = factor
        self.steps_left = max_steps

    def next_rate(self) -> int | None:
        if self.steps_left <= 0:
            return None
        if self.failing is None:
            rate = round(self.passing * self.factor)
        else:
            if self.failing <= MIN_SEARCH_RATE or (
                    self.passing and self.failing / self.passing <= REFINE_RATIO):
                return None
            rate = (round((self.passing * self.failing) ** 0.5) if self.passing
                    else self.failing // 2)
            if not self.passing < rate < self.failing:
                return None
        self.steps_left -= 1
        return rate

    def record(self, rate: float, sustained: bool) -> None:
        if sustained:
            self.passing = max(self.passing, rate)
        else:
            self.failing = rate if self.failing is None else min(self.failing, rate)


@dataclass(frozen=True)
class Configuration:
    name: str
    database: str  # "sqlite" or "postgresql"; the echo baseline runs on the SQLite stack
    workers: int  # 0: the echo consumer instead of workers
    spend: bool = False
    replay_share: float = 0.0
    description: str = ""

    @property
    def baseline(self) -> bool:
        return self.workers == 0


ECHO = Configuration("echo", "sqlite", 0, description="echo consumer (baseline)")
SQLITE_1 = Configuration("sqlite-1", "sqlite", 1, description="SQLite, 1 worker")
CONFIGURATIONS = (
    ECHO,
    SQLITE_1,
    Configuration("sqlite-1-spend", "sqlite", 1, spend=True,
                  description="SQLite, 1 worker, paying with credit"),
    Configuration("sqlite-1-replay", "sqlite", 1, replay_share=0.1,
                  description="SQLite, 1 worker, 10 % of terminals replaying journals"),
    Configuration("pg-1", "postgresql", 1, description="PostgreSQL, 1 worker"),
    Configuration("pg-2", "postgresql", 2, description="PostgreSQL, 2 workers"),
    Configuration("pg-4", "postgresql", 4, description="PostgreSQL, 4 workers"),
    Configuration("pg-2-spend", "postgresql", 2, spend=True,
                  description="PostgreSQL, 2 workers, paying with credit"),
    Configuration("pg-2-replay", "postgresql", 2, replay_share=0.1,
                  description="PostgreSQL, 2 workers, 10 % of terminals replaying journals"),
)


@dataclass(frozen=True)
class Plan:
    quick: bool
    fixed_rates: tuple[int, ...]
    step_s: float
    warmup_s: float
    search_factor: float
    max_search_steps: int
    terminals: int
    members_per_terminal: int
    configurations: tuple[str, ...]


# `make bench QUICK=1`: under a minute, for use while developing.
QUICK = Plan(quick=True, fixed_rates=(50, 200, 500), step_s=1.5, warmup_s=0.5,
             search_factor=1.6, max_search_steps=4, terminals=40, members_per_terminal=2,
             configurations=("echo", "sqlite-1"))
# `make bench`: ~8 s per step; the whole run about 25 minutes with the reports' seed.
FULL = Plan(quick=False, fixed_rates=(50, 200, 500), step_s=8.0, warmup_s=1.5,
            search_factor=1.25, max_search_steps=8, terminals=100, members_per_terminal=10,
            configurations=tuple(c.name for c in CONFIGURATIONS))


def sustained(step: dict) -> bool:
    p99 = step["latency_ms"]["p99"]
    return (p99 is not None and p99 < P99_LIMIT_MS and step["errors"] == 0
            and step["achieved_per_s"] >= MIN_ACHIEVED_SHARE * step["offered_per_s"])


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _step_line(name: str, step: dict) -> str:
    lat = step["latency_ms"]
    cpu = " ".join(f"{k} {v:g}%" for k, v in step.get("cpu_percent", {}).items())
    return (f"{name}: offered {step['offered_per_s']:g}/s achieved {step['achieved_per_s']:g}/s "
            f"p50 {lat['p50']} p99 {lat['p99']} max {lat['max']} ms, errors "
            f"{step['errors']}{' ' + str(step['error_codes']) if step['errors'] else ''}; "
            f"cpu {cpu} -> {'ok' if step['sustained'] else 'not sustained'}")


def measure_configuration(stack: BenchStack, config: Configuration, plan: Plan) -> dict:
    stack.start_broker()
    generator = None
    try:
        if config.baseline:
            processes = {"echo": stack.start_echo()}
        else:
            workers = stack.start_workers(config.workers, config.name)
            processes = {f"worker-{n}": w for n, w in enumerate(workers, 1)}
        pids = {name: p.pid for name, p in processes.items()}
        pids["broker"] = stack.broker.process.pid
        meter = procstats.CpuMeter(pids)
        workload = Workload(spend=config.spend, replay_share=config.replay_share,
                            expect="echo" if config.baseline else "backend")
        generator = LoadGenerator(stack.terminal_specs(), workload)
        generator.connect()

        def step(rate: float) -> dict:
            meter.start()
            result = generator.run_step(rate, plan.step_s, warmup_s=plan.warmup_s)
            result["cpu_percent"] = meter.stop()
            result.pop("ids")
            result["sustained"] = sustained(result)
            log(_step_line(config.name, result))
            return result

        fixed = [step(rate) for rate in plan.fixed_rates]
        search: list[dict] = []
        passing = [s for s in fixed if s["sustained"]]
        # The echo consumer goes far beyond the workers: twice the steps, so that its
        # maximum is found rather than cut off by the bound (the ratios divide by it).
        rates = RateSearch(fixed, plan.search_factor,
                           plan.max_search_steps * (2 if config.baseline else 1))
        while (rate := rates.next_rate()) is not None:
            result = step(rate)
            search.append(result)
            rates.record(rate, result["sustained"])
            if result["sustained"]:
                passing.append(result)
        best = max(passing, key=lambda s: s["offered_per_s"], default=None)
        return {
            "description": config.description,
            "database": config.database if not config.baseline else None,
            "workers": config.workers,
            "spend": config.spend,
            "replay_share": config.replay_share,
            "terminals": len(generator.terminals),
            "fixed": fixed,
            "search": search,
            "max_sustained_per_s": best["offered_per_s"] if best else 0,
            "max_sustained_p99_ms": best["latency_ms"]["p99"] if best else None,
            "peak_rss_bytes": {name: procstats.peak_rss_bytes(pid) for name, pid in pids.items()},
        }
    finally:
        if generator is not None:
            stack.remember_seqs(generator.next_seqs())
            generator.close()
        stack.stop_processes()
        stack.stop_broker()


def add_ratios(configurations: dict) -> None:
    """Every result also as a ratio to the echo baseline of the same run: max sustained
    rate (config / echo, higher is better) and p99 at each fixed rate (config / echo)."""
    echo = configurations.get("echo")
    if not echo or "error" in echo or "skipped" in echo:
        return
    echo_p99 = {s["offered_per_s"]: s["latency_ms"]["p99"] for s in echo["fixed"]}
    for name, result in configurations.items():
        if name == "echo" or "fixed" not in result:
            continue
        ratios = {}
        if echo["max_sustained_per_s"]:
            ratios["max_sustained"] = round(result["max_sustained_per_s"]
                                            / echo["max_sustained_per_s"], 3)
        for step in result["fixed"]:
            base = echo_p99.get(step["offered_per_s"])
            p99 = step["latency_ms"]["p99"]
            if base and p99 is not None:
                ratios[f"p99_at_{step['offered_per_s']:g}"] = round(p99 / base, 2)
        result["ratio_to_echo"] = ratios


def run_floor(quick: bool, databases: set[str], pg_reason: str | None) -> dict:
    """The bare-driver floor (bench/floor.py) on each database the run measured, in the
    same run: {database: {real, floor, cpu_ratio, ...} or {"error"/"skipped": ...}}."""
    from bench import floor

    results = {}
    for kind in ("sqlite", "postgresql"):
        if kind not in databases:
            continue
        if kind == "postgresql" and pg_reason:
            results[kind] = {"skipped": pg_reason}
            continue
        log(f"floor on {kind} ...")
        try:
            results[kind] = floor.measure(quick, databases=(kind,))[kind]
            log(f"floor on {kind}: {results[kind]['floor']['cpu_us']:g} µs CPU per purchase "
                f"(real path {results[kind]['real']['cpu_us']:g})")
        except Exception as error:
            traceback.print_exc()
            results[kind] = {"error": f"{type(error).__name__}: {error}"}
            log(f"floor on {kind}: FAILED: {error}")
    return results


def add_floor_ratios(configurations: dict, floor: dict) -> None:
    """Every configuration's maximum sustained rate also as a ratio to the floor's
    purchases/s on the same database (one connection, this run): "× floor"."""
    for result in configurations.values():
        database = result.get("database")
        base = (floor.get(database) or {}).get("floor", {}).get("per_s")
        if not base or "max_sustained_per_s" not in result or not result.get("workers"):
            continue
        result["ratio_to_floor"] = {"max_sustained": round(result["max_sustained_per_s"]
                                                           / base, 3)}


def _version(argv: list[str], pattern: str) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, out.stdout + out.stderr)
    return match.group(1) if match else None


def machine_info() -> dict:
    from sqlalchemy import create_engine, text

    from backend.supervise import find_mosquitto

    info = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "mosquitto": _version([find_mosquitto(), "-h"], r"mosquitto version (\S+)"),
            "postgresql": None}
    try:
        engine = create_engine(postgres_server_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            info["postgresql"] = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    except Exception:  # unreachable: reported with the skipped configurations
        pass
    return info


def run_extras(quick: bool) -> dict:
    """The other measurements, each from its own module (imported here, so a missing or
    failing one is reported as that measurement's error)."""
    extras = {}
    for name in ("firmware", "reports", "member_import"):
        log(f"{name} ...")
        started = time.monotonic()
        try:
            module = __import__(f"bench.{name}", fromlist=["measure"])
            extras[name] = module.measure(quick)
            log(f"{name}: done in {time.monotonic() - started:.1f} s")
        except Exception as error:
            traceback.print_exc()
            extras[name] = {"error": f"{type(error).__name__}: {error}"}
            log(f"{name}: FAILED: {error}")
    return extras


def run(plan: Plan, *, skip_extras: bool = False, only: tuple[str, ...] | None = None) -> dict:
    started = time.monotonic()
    selected = [c for c in CONFIGURATIONS if c.name in (only or plan.configurations)]
    results: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": plan.quick,
        "plan": asdict(plan),
        "machine": machine_info(),
        "configurations": {},
        "extras": {},
    }
    configurations = results["configurations"]
    pg_reason = None
    if any(c.database == "postgresql" for c in selected):
        pg_reason = postgres_unreachable_reason()
        if pg_reason:
            log("!" * 70)
            log(f"PostgreSQL configurations SKIPPED: {pg_reason}")
            log("(set BENCH_DATABASE_URL to a reachable server)")
            log("!" * 70)
    with tempfile.TemporaryDirectory(prefix="vafa-bench-") as workdir:
        for kind in ("sqlite", "postgresql"):
            group = [c for c in selected if c.database == kind]
            if not group:
                continue
            if kind == "postgresql" and pg_reason:
                for config in group:
                    configurations[config.name] = {"description": config.description,
                                                   "skipped": pg_reason}
                continue
            stack = BenchStack(kind, Path(workdir) / kind, terminals=plan.terminals,
                               members_per_terminal=plan.members_per_terminal)
            try:
                log(f"{kind}: seeding {plan.terminals} terminals, "
                    f"{plan.terminals * plan.members_per_terminal} members ...")
                stack.set_up()
                log(f"{kind}: seeded in {stack.seed_s:.1f} s")
                for config in group:
                    try:
                        configurations[config.name] = measure_configuration(stack, config, plan)
                    except Exception as error:
                        traceback.print_exc()
                        configurations[config.name] = {
                            "description": config.description,
                            "error": f"{type(error).__name__}: {error}"}
                        log(f"{config.name}: FAILED: {error}")
            except Exception as error:
                traceback.print_exc()
                for config in group:
                    configurations.setdefault(config.name, {
                        "description": config.description,
                        "error": f"set-up failed: {type(error).__name__}: {error}"})
            finally:
                stack.tear_down()
    add_ratios(configurations)
    results["floor"] = run_floor(plan.quick, {c.database for c in selected if c.workers},
                                 pg_reason)
    add_floor_ratios(configurations, results["floor"])
    if not skip_extras:
        results["extras"] = run_extras(plan.quick)
    else:
        results["extras"] = {"skipped": "--skip-extras"}
    from bench import report

    results["targets"] = report.evaluate_targets(results)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def failures(results: dict) -> list[str]:
    """What did not run (missed targets are not failures; they are reported)."""
    failed = [f"{name}: {result['error']}" for name, result
              in results["configurations"].items() if "error" in result]
    failed += [f"{name}: {result['error']}" for name, result in results["extras"].items()
               if isinstance(result, dict) and "error" in result]
    failed += [f"floor on {name}: {result['error']}"
               for name, result in results.get("floor", {}).items() if "error" in result]
    return failed

