"""The worker's per-request cost, in process, without MQTT (docs/hot-path.md).

Creates the app on a fresh SQLite file (or a fresh schema of `--database-url`'s
PostgreSQL database, dropped at the end), migrates it, seeds the demo club (100 members
with cards and a welcome credit, tiers, offers, a past) plus `--members` more and
`--devices` terminals, pre-builds signed request frames, and times
`Worker.handle(topic, payload)` — the whole path a broker message takes except the
network — for each operation. Prints JSON: µs per request (wall and CPU) and the wall
percentiles.

Examples:
    python -m bench.profile_worker --requests 2000
    python -m bench.profile_worker --requests 500 --database-url \\
        postgresql+psycopg://postgres@127.0.0.1:5432/hotpath
    python -m bench.profile_worker --requests 1000 --only purchase --profile /tmp/purchase.html
"""

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

OPERATIONS = ("purchase", "purchase_spend", "lookup", "offline_replay")
WARM_UP_REQUESTS = 50  # per operation, not timed: caches, prepared statements, the pool
SPEND_RIALS = 2_000  # each spend is covered by what the purchase before it earned
PURCHASE_RIALS = 250_000
MAX_REQUESTS = 1_000_000
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_worker",
        description=__doc__.split("\n\n")[0],
        epilog="Example: python -m bench.profile_worker --requests 2000 --profile out.html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000,
                        help="timed requests per operation (default 2000)")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL URL; a schema of its own is made and dropped "
                             "(default: a fresh SQLite file)")
    parser.add_argument("--members", type=int, default=0,
                        help="members added to the demo's 100 (default 0)")
    parser.add_argument("--devices", type=int, default=4,
                        help="terminals sending the requests, round-robin (default 4)")
    parser.add_argument("--only", choices=OPERATIONS, action="append",
                        help="time only this operation (repeatable)")
    parser.add_argument("--batch", type=int, default=1,
                        help="frames per Worker.handle_batch call, one commit each "
                             "(group commit; default 1: Worker.handle per frame)")
    parser.add_argument("--profile", default="",
                        help="run pyinstrument over the timed loops; .html or .txt")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be 1..{MAX_REQUESTS}")
    if not 1 <= args.batch <= 20:
        parser.error("--batch must be 1..20")
    if not 1 <= args.devices <= 100:
        parser.error("--devices must be 1..100")
    return args


class Schema:
    """A PostgreSQL schema of our own, so the bench never touches existing tables."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine, text

        self.url, self.name = url, f"vafa_bench_{uuid.uuid4().hex[:12]}"
        self._text, self._engine = text, create_engine(url)
        with self._engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        separator = "&" if "?" in url else "?"
        self.scoped_url = f"{url}{separator}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self._engine.begin() as connection:
            connection.execute(self._text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self._engine.dispose()


def build_app(instance_dir: Path, database_url: str):
    import flask_migrate

    from backend import create_app
    from backend.config import Config

    app = create_app(Config(environ={
        "VAFA_INSTANCE_DIR": str(instance_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret",
        "VAFA_MQTT_PASSWORD": "bench-password",
    }))
    with app.app_context():
        flask_migrate.upgrade(directory=str(PROJECT_ROOT / "backend" / "migrations"),
                              revision="heads")
    return app


def seed(app, extra_members: int, device_count: int, now: datetime):
    """The demo club, `extra_members` more members (a card and the welcome credit each),
    and `device_count` terminals; returns ([(device id, key)], [card numbers])."""
    from sqlalchemy import insert, select

    from backend import ledger
    from backend.extensions import db
    from backend.models import Branch, Card, Member, Tier
    from backend.services import demo, devices
    from backend.unit_of_work import SYSTEM
    from card_spec import make_card_number

    with app.app_context():
        session = db.session
        demo.seed_demo(session, now)
        branch_ids = list(session.scalars(select(Branch.id).order_by(Branch.id)))
        if extra_members:
            bronze = session.scalar(select(Tier.id).where(Tier.code == "bronze"))
            first = demo.DEMO_MEMBER_COUNT + 1
            session.execute(insert(Member.__table__), [
                {"first_name": "Bench", "last_name": f"Member{serial}",
                 "mobile": f"0913{serial:07d}", "tier_id": bronze,
                 "home_branch_id": branch_ids[serial % len(branch_ids)], "joined_at": now}
                for serial in range(first, first + extra_members)])
            new_ids = list(session.scalars(select(Member.id).where(
                Member.first_name == "Bench").order_by(Member.id)))
            session.execute(insert(Card.__table__), [
                {"number": make_card_number(demo.DEMO_PREFIX, first + index),
                 "member_id": member_id, "issued_at": now}
                for index, member_id in enumerate(new_ids)])
            ledger.post_opening_credits(session, [
                ledger.OpeningCredit(member_id, f"bench:welcome:{member_id}",
                                     demo.DEMO_WELCOME_CREDIT_RIALS)
                for member_id in new_ids], kind="grant", reason="bench", now=now)
        credentials = [
            devices.register_device(session, actor=SYSTEM, device_id=f"bench-{index:02d}",
                                    branch_id=branch_ids[index % len(branch_ids)])
            for index in range(device_count)]
        session.commit()
        cards = list(session.scalars(
            select(Card.number).where(Card.status == "active", Card.member_id.is_not(None))
            .order_by(Card.id)))
        session.remove()
    return [(item.device_id, bytes.fromhex(item.key_hex)) for item in credentials], cards


class Frames:
    """Signed request frames, round-robin over devices and cards, seq rising per device."""

    def __init__(self, terminals, cards, now_ts: int):
        from backend import protocol

        self._protocol = protocol
        self.terminals, self.cards, self.now_ts = terminals, cards, now_ts
        self._seq = dict.fromkeys((device_id for device_id, _ in terminals), 0)
        self._count = 0

    def build(self, operation: str, count: int) -> list[tuple[str, bytes]]:
        frames = []
        for _ in range(count):
            device_id, key = self.terminals[self._count % len(self.terminals)]
            card = self.cards[(self._count // len(self.terminals)) % len(self.cards)]
            self._count += 1
            self._seq[device_id] += 1
            seq = self._seq[device_id]
            body = {"v": 1, "id": f"b{seq:09d}", "seq": seq, "ts": self.now_ts, "card": card}
            if operation == "lookup":
                body["op"] = "lookup"
            else:
                body.update(op="purchase", amount=PURCHASE_RIALS,
                            use_credit=SPEND_RIALS if operation == "purchase_spend" else 0)
            if operation == "offline_replay":
                body.update(offline=True, ts=self.now_ts - 3600)
            payload = self._protocol.encode_frame(
                json.dumps(body, separators=(",", ":")).encode(), key)
            frames.append((self._protocol.topic(device_id, "req"), payload))
        return frames


def time_operation(worker, frames, keys, batch: int = 1) -> dict:
    """Wall per request: a batch's wall time, counted for each of its frames (a frame
    of a batch is answered when the batch committed)."""
    from backend import protocol

    wall_us, replies = [], []
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for start in range(0, len(frames), batch):
        chunk = frames[start:start + batch]
        started = time.perf_counter()
        if batch == 1:
            replies.append(worker.handle(*chunk[0]))
        else:
            replies.extend(worker.handle_batch(chunk))
        wall_us.extend([(time.perf_counter() - started) * 1e6] * len(chunk))
    wall_total_s = time.perf_counter() - wall_started
    cpu_total_s = time.process_time() - cpu_started
    codes: dict[str, int] = {}
    for (topic, _), reply in zip(frames, replies, strict=True):
        assert reply is not None, f"no reply to a request on {topic}"
        device_id = protocol.device_id_from_topic(topic, "req")
        code = json.loads(protocol.decode_frame(reply[1], keys[device_id]))["code"]
        codes[code] = codes.get(code, 0) + 1
    wall_us.sort()
    return {
        "requests": len(frames),
        "wall_us_per_request": round(wall_total_s * 1e6 / len(frames), 1),
        "cpu_us_per_request": round(cpu_total_s * 1e6 / len(frames), 1),
        "p50_us": round(statistics.median(wall_us), 1),
        "p99_us": round(wall_us[min(len(wall_us) - 1, int(len(wall_us) * 0.99))], 1),
        "max_us": round(wall_us[-1], 1),
        "codes": codes,
    }


def run(args) -> dict:
    import psutil

    from backend.mqtt.worker import Worker

    operations = args.only or list(OPERATIONS)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="vafa-bench-") as temp:
        instance_dir = Path(temp) / "instance"
        schema = Schema(args.database_url) if args.database_url else None
        try:
            url = schema.scoped_url if schema else f"sqlite:///{instance_dir / 'bench.sqlite3'}"
            app = build_app(instance_dir, url)
            # The worker logs as in production, into a file rather than this terminal.
            log_file = open(Path(temp) / "worker.log", "a")  # noqa: SIM115 - closed below
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(log_file)
            terminals, cards = seed(app, args.members, args.devices, now)
            keys = dict(terminals)
            worker = Worker(app, host="127.0.0.1", port=1, username="bench", password="bench")
            frames = Frames(terminals, cards, int(now.timestamp()))
            for operation in operations:  # warm-up, untimed
                for topic, payload in frames.build(operation, WARM_UP_REQUESTS):
                    worker.handle(topic, payload)
            timed = {operation: frames.build(operation, args.requests)
                     for operation in operations}
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
            results = {operation: time_operation(worker, timed[operation], keys, args.batch)
                       for operation in operations}
            if profiler is not None:
                profiler.stop()
                out = Path(args.profile)
                out.write_text(profiler.output_html() if out.suffix == ".html"
                               else profiler.output_text(unicode=True, show_all=False))
            with app.app_context():
                from backend.extensions import db

                db.engine.dispose()
            log_file.close()
        finally:
            if schema is not None:
                schema.drop()
    return {
        "database": "postgresql" if args.database_url else "sqlite",
        "members": 100 + args.members,
        "devices": args.devices,
        "batch": args.batch,
        "python": sys.version.split()[0],
        "rss_mb": round(psutil.Process(os.getpid()).memory_info().rss / 2**20, 1),
        "operations": results,
        "profile": args.profile or None,
    }


def main(argv=None) -> None:
    print(json.dumps(run(parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
