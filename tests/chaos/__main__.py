"""`make chaos`: the fault-injection run on SQLite and, when PostgreSQL is reachable
(TEST_DATABASE_URL or DATABASE_URL), on PostgreSQL too. Prints the result table per
database and, with --write-docs, puts it into docs/RELIABILITY.md.

Example: .venv/bin/python -m tests.chaos --full --write-docs
"""

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tests.chaos import harness

DOC = harness.PROJECT_ROOT / "docs" / "RELIABILITY.md"
START, END = "<!-- chaos-table:start -->", "<!-- chaos-table:end -->"


def write_docs(verdicts, mode: str) -> None:
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    body = "\n\n".join(verdict.table() for verdict in verdicts)
    DOC.write_text(f"{head}{START}\n`make chaos` ({mode} run, {stamp}):\n\n{body}\n{END}{tail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--full", action="store_true",
                        help="the full run (minutes); default: the reduced one of make test")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--keep", type=Path, default=None,
                        help="run in this directory and keep it (logs, databases)")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"write the table into {DOC.relative_to(harness.PROJECT_ROOT)}")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.database == "all" else [args.database]
    if "postgresql" in kinds and not harness.postgres_reachable():
        if args.database == "postgresql":
            print("PostgreSQL is not reachable: set TEST_DATABASE_URL", file=sys.stderr)
            return 2
        print("PostgreSQL not reachable (TEST_DATABASE_URL/DATABASE_URL): SQLite only")
        kinds.remove("postgresql")
    durations = harness.FULL if args.full else harness.REDUCED
    verdicts = []
    for kind in kinds:
        if args.keep:
            verdict = harness.ChaosRun(kind, args.keep / kind, durations).run()
        else:
            with tempfile.TemporaryDirectory(prefix=f"vafa-chaos-{kind}-") as workdir:
                verdict = harness.ChaosRun(kind, Path(workdir), durations).run()
        verdicts.append(verdict)
        print(verdict.table())
        for error in verdict.errors:
            print(f"  ERROR {error}")
        print()
    if args.write_docs:
        write_docs(verdicts, "full" if args.full else "reduced")
    return 0 if all(verdict.ok for verdict in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
