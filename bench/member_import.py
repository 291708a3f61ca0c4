
"""Member import (M3) of a generated workbook into a fresh SQLite database, timed per
step (backend.services.member_import.benchmark): generate the file, read it, validate
it, commit it. Full: 10,000 rows; quick: 1,000.

    python -m bench.member_import [--quick] [--rows 10000]
"""

import argparse
import json
from datetime import UTC, datetime

from bench.database import fresh_app

FULL_ROWS = 10_000
QUICK_ROWS = 1_000
STEPS = ("generate_s", "read_s", "validate_s", "commit_s")


def measure(quick=False, rows=None, database_url=None):
    """``rows`` overrides the mode's size (1..20,000, the import's bound)."""
    from sqlalchemy import func, select

    from backend.extensions import db
    from backend.models import Club, Member, Tier, the_club
    from backend.services import member_import

    rows = rows or (QUICK_ROWS if quick else FULL_ROWS)
    if not 1 <= rows <= 20_000:
        raise ValueError("rows must be between 1 and 20000 (the import's bound)")
    with fresh_app(database_url) as (app, kind, work), app.app_context():
        session = db.session
        if the_club(session) is None:
            session.add(Club(id=1, name="Bench club", welcome_credit_rials=50_000))
            session.add(Tier(code="bench", name="bench", rank=1, point_step_rials=10_000))
            session.commit()
        result = member_import.benchmark(session, work / "imports", rows=rows,
                                         now=datetime.now(UTC))
        members = session.scalar(select(func.count()).select_from(Member))
    return {
        "database": kind,
        "rows": result["rows"],
        "imported": result["imported"],
        "members": members,
        "file_bytes": result["file_bytes"],
        "total_s": round(sum(result[step] for step in STEPS), 3),
        "steps": {step.removesuffix("_s"): round(result[step], 3) for step in STEPS},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.member_import",
        description="Import a generated member workbook into a fresh database, timed per "
                    "step. Example: python -m bench.member_import --quick")
    parser.add_argument("--quick", action="store_true", help="1,000 rows instead of 10,000")
    parser.add_argument("--rows", type=int, default=None, help="rows in the file (1..20000)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(quick=args.quick, rows=args.rows), indent=2))


if __name__ == "__main__":
    main()
