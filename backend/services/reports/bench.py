"""Render-time measurement of every report page, for `make bench` (issue 7 "Scale").

`page_timings(app)` signs in as a bench staff user (created once, admin role, random
password) and requests each report page through the app's test client — the whole
Flask request: permission check, queries, template — several times, keeping the best
and the median. The caller supplies a database holding the data to measure, e.g. one
made by `flask --app backend seed-reports --members 100000 --purchases 2000000`.
`flask --app backend bench-reports` prints the same as a table.
"""

import secrets
import statistics
import time
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from backend.extensions import db
from backend.models import StaffUser
from backend.services.reports import REPORTS

BENCH_USERNAME = "report-bench"
# What the pages are asked for: each report's default period (last Jalali month; the
# last 12 months for cohorts), then the same compared with the period before.
VARIANTS = {"default": {}, "compared": {"compare": "1"}}


@dataclass(frozen=True)
class PageTiming:
    path: str
    status: int
    best_seconds: float
    median_seconds: float


def _bench_client(app: Flask):
    password = secrets.token_urlsafe(16)
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(
            StaffUser.username == BENCH_USERNAME)).one_or_none()
        if user is None:
            user = StaffUser(username=BENCH_USERNAME, full_name="Report benchmark",
                             role="admin", password_hash="")
            db.session.add(user)
        # A cheap hash: the benchmark signs in once per run; nothing else uses this user.
        user.password_hash = generate_password_hash(password, method="pbkdf2:sha256:1000")
        user.is_active = True
        db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"username": BENCH_USERNAME, "password": password})
    assert response.status_code == 302, "the bench user could not sign in"
    return client


def page_timings(app: Flask, repeat: int = 3, variants=VARIANTS) -> list[PageTiming]:
    """Every report page under every variant, `repeat` times each."""
    assert repeat >= 1
    was_enabled = app.config.get("WTF_CSRF_ENABLED", True)
    app.config["WTF_CSRF_ENABLED"] = False  # the bench signs in by POST without a form
    try:
        client = _bench_client(app)
    finally:
        app.config["WTF_CSRF_ENABLED"] = was_enabled
    results = []
    for name, report in REPORTS.items():
        for query in variants.values():
            if query.get("compare") and not report.comparable:
                continue
            path = f"/reports/{name}" + ("?" + "&".join(f"{k}={v}" for k, v in query.items())
                                         if query else "")
            seconds, status = [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                seconds.append(time.perf_counter() - started)
                status = response.status_code
            results.append(PageTiming(path, status, min(seconds), statistics.median(seconds)))
    return results
