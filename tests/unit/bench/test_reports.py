import os

import pytest

from backend.services.reports import REPORTS
from bench import reports


def _check(result, kind):
    assert result["database"] == kind
    assert result["members"] == 300 and result["purchases"] > 0
    assert result["seed_s"] > 0
    paths = [page["path"] for page in result["pages"]]
    for name in REPORTS:
        assert f"/reports/{name}" in paths
    assert all(page["best_s"] > 0 and page["median_s"] >= page["best_s"]
               for page in result["pages"])


def test_measure_on_sqlite():
    _check(reports.measure(quick=True, members=300, purchases=3000), "sqlite")


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="no PostgreSQL")
def test_measure_on_a_fresh_postgresql_database():
    from sqlalchemy import create_engine, text

    server = os.environ["TEST_DATABASE_URL"]
    result = reports.measure(quick=True, database_url=server, members=300, purchases=3000)
    _check(result, "postgresql")
    engine = create_engine(server)
    with engine.connect() as connection:
        left = connection.scalar(text(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'vafa_bench_%'"))
    engine.dispose()
    assert left == 0
