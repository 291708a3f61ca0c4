"""Time the member import (M3) of a generated file: `make bench` runs this.

    .venv/bin/python scripts/bench_member_import.py --rows 10000
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python scripts/bench_member_import.py

With DATABASE_URL it migrates and imports into that (empty) database; without it, into a
new SQLite file in a temporary directory. Prints one JSON line of seconds per step
(generate the workbook, read it, validate it, commit it) from
`backend.services.member_import.benchmark`. The goal: 10,000 rows import in well under
a minute.
"""

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the file")
    arguments = parser.parse_args()
    if not 1 <= arguments.rows <= 20_000:
        parser.error("--rows must be between 1 and 20000 (the import's bound)")

    import flask_migrate

    from backend import create_app
    from backend.config import Config
    from backend.extensions import db
    from backend.models import Club, Tier
    from backend.services import member_import

    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
        app = create_app(Config(environ={"VAFA_INSTANCE_DIR": str(work), "DATABASE_URL": url,
                                         "SECRET_KEY": "bench", "VAFA_MQTT_PASSWORD": "bench"}))
        with app.app_context():
            flask_migrate.upgrade(directory=str(Path(__file__).resolve().parents[1]
                                                / "backend/migrations"))
            session = db.session
            if session.get(Club, 1) is None:
                session.add(Club(id=1, name="Bench club", welcome_credit_rials=50_000))
                session.add(Tier(code="bench", name="bench", rank=1, point_step_rials=10_000))
                session.commit()
            result = member_import.benchmark(session, work / "imports", rows=arguments.rows,
                                             now=datetime.now(UTC))
            db.engine.dispose()
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value
                      for key, value in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
