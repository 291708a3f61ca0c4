"""The jobs process (`flask --app backend jobs`): sends the outbox, asks for delivery
reports and runs the daily jobs, in one loop with a short tick.

Several processes may run at once on PostgreSQL (claims skip each other's rows, daily
jobs are claimed per day); on SQLite one is enough — its claims are serialised by the
database lock anyway. Each tick is bounded: one batch of messages, one batch of
delivery checks, the due daily jobs. An error is logged and the next tick goes on.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask

from backend.extensions import db
from backend.jobs import daily
from backend.notifications import dispatcher, providers
from backend.unit_of_work import SYSTEM, unit_of_work

log = logging.getLogger(__name__)

TICK_S = 2.0
DELIVERY_CHECK_INTERVAL = timedelta(seconds=60)
# Daily jobs are due by the hour; looking once a minute keeps idle ticks to one short
# transaction (on SQLite every transaction takes the write lock the purchases need).
DAILY_CHECK_INTERVAL = timedelta(seconds=60)


def build_providers(app: Flask, session) -> dict:
    current = dispatcher.settings(session)
    return providers.build(
        current, outbox_dir=Path(app.config["INSTANCE_DIR"]) / "outbox",
        kavenegar_host=app.config.get("KAVENEGAR_HOST", providers.KAVENEGAR_HOST))


def app_clock(app: Flask) -> Callable[[], datetime]:
    """Now in UTC; tests pin it with the `CLOCK` config value, as the web views do."""
    fixed = app.config.get("CLOCK")
    return fixed if fixed else (lambda: datetime.now(UTC))


@dataclass
class TickReport:
    dispatch: dispatcher.DispatchReport = field(default_factory=dispatcher.DispatchReport)
    deliveries: int = 0
    daily: dict[str, str] = field(default_factory=dict)


class Scheduler:
    def __init__(self, app: Flask, *, provider_override: dict | None = None,
                 run_daily: bool = True):
        self.app = app
        self.clock = app_clock(app)
        self.provider_override = provider_override
        self.run_daily = run_daily
        self._last_delivery_check: datetime | None = None
        self._last_daily_check: datetime | None = None

    def tick(self) -> TickReport:
        report = TickReport()
        with self.app.app_context():
            session = db.session
            try:
                # The settings are read in a unit of their own: no transaction stays
                # open while the providers are called.
                with unit_of_work(session, SYSTEM):
                    chosen = self.provider_override or build_providers(self.app, session)
                report.dispatch = dispatcher.dispatch_due(
                    session, chosen, self.clock, config=self.app.config)
                now = self.clock()
                if (self._last_delivery_check is None
                        or now - self._last_delivery_check >= DELIVERY_CHECK_INTERVAL):
                    self._last_delivery_check = now
                    report.deliveries = dispatcher.check_deliveries(session, chosen, now)
                now = self.clock()
                if self.run_daily and (self._last_daily_check is None
                                       or now - self._last_daily_check >= DAILY_CHECK_INTERVAL):
                    self._last_daily_check = now
                    report.daily = daily.run_due(session, now)
            except Exception:  # the failed step's unit rolled back; remove() ends the rest
                log.exception("jobs tick failed; the next tick tries again")
            finally:
                db.session.remove()
        return report

    def run_forever(self, stop: threading.Event, tick_s: float = TICK_S) -> None:
        log.info("jobs process started (tick %.1f s)", tick_s)
        while not stop.is_set():
            report = self.tick()
            # A full batch means more is waiting: go on without sleeping.
            if report.dispatch.handled < dispatcher.BATCH_SIZE:
                stop.wait(tick_s)
        log.info("jobs process stopped")
