"""Report pages at scale: a fresh database seeded with the generated club of
docs/reports.md ("Generated data"), then every report page rendered through the app
(backend.services.reports.bench.page_timings). Full: 100,000 members and 2,000,000
purchases; quick: 2,000 and 30,000.

    python -m bench.reports [--quick] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import json
import time
from datetime import UTC, datetime

from bench.database import fresh_app

FULL = {"members": 100_000, "purchases": 2_000_000, "repeat": 3}
QUICK = {"members": 2_000, "purchases": 30_000, "repeat": 1}


def measure(quick=False, database_url=None, members=None, purchases=None, repeat=None):
    """``database_url`` names a PostgreSQL server (a fresh database is created there and
    dropped); None uses a temporary SQLite file. ``members``/``purchases``/``repeat``
    override the mode's sizes (tests)."""
    from backend.extensions import db
    from backend.services.reports import bench, lrfm, seed

    size = QUICK if quick else FULL
    members = members or size["members"]
    purchases = size["purchases"] if purchases is None else purchases
    repeat = repeat or size["repeat"]
    with fresh_app(database_url) as (app, kind, _work):
        with app.app_context():
            started = time.perf_counter()
            now = datetime.now(UTC)
            result = seed.seed_reports(db.session, members=members, purchases=purchases,
                                       now=now)
            lrfm.recompute(db.session, now)
            db.session.commit()
            seed_s = time.perf_counter() - started
            broken = seed.check_ledger(db.session)
            if broken:
                raise RuntimeError(f"{broken} members' balances differ from their ledger")
        timings = bench.page_timings(app, repeat)
    failed = [t.path for t in timings if t.status != 200]
    if failed:
        raise RuntimeError(f"report pages answered with an error: {failed}")
    return {
        "database": kind,
        "members": result.members,
        "purchases": result.purchases,
        "seed_s": round(seed_s, 3),
        "repeat": repeat,
        "pages": [{"path": t.path, "best_s": round(t.best_seconds, 4),
                   "median_s": round(t.median_seconds, 4)} for t in timings],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.reports",
        description="Seed a fresh database and time every report page. "
                    "Example: python -m bench.reports --quick")
    parser.add_argument("--quick", action="store_true", help="2,000 members, 30,000 purchases")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server to create a fresh database on "
                             "(default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(quick=args.quick, database_url=args.database_url), indent=2))


if __name__ == "__main__":
    main()
