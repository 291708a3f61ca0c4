"""`flask --app backend …` commands: thin wrappers over services."""

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend.card_commands import cards_group
from backend.extensions import db
from backend.unit_of_work import SYSTEM


def init_app(app: Flask) -> None:
    for command in (seed_demo_command, mqtt_worker_command, broker_config_command, up_command,
                    nightly_command, jobs_command, seed_reports_command, bench_reports_command,
                    backup_command, restore_command, init_command, create_admin_command,
                    migrate_command, cards_group):
        app.cli.add_command(command)


def main() -> None:
    """The `vafa` console script: the same commands as `flask --app backend …`.

    Example: vafa init; vafa backup; vafa migrate
    """
    from flask.cli import FlaskGroup

    from backend import create_app
    from backend.startup import SchemaTooNew

    def make_app():
        try:
            return create_app()
        except SchemaTooNew as error:
            raise click.ClickException(str(error)) from None

    group = FlaskGroup(name="vafa", create_app=make_app, add_version_option=False,
                       load_dotenv=False, help="Vafa's admin commands (docs/deploy.md).")
    group.main(prog_name="vafa")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when a club already exists.")
def seed_demo_command(if_empty: bool) -> None:
    """Create the demo club: 2 branches, staff, tiers, 100 members, 2 terminals.

    Terminal configs (with their secrets) are written to instance/devices/<id>/config.json.

    Example: flask --app backend seed-demo --if-empty
    """
    from backend.services import demo, devices

    if demo.club_exists(db.session):
        if if_empty:
            click.echo("demo club already present; nothing to do")
            return
        raise click.ClickException("the database already has a club; use an empty database")
    result = demo.seed_demo(db.session, datetime.now(UTC))
    paths = devices.write_terminal_configs(db.session, result.terminals, current_app.config)
    click.echo(f"created the demo club with {result.member_count} members")
    for path in paths:
        click.echo(f"terminal config: {path}")


@click.command("broker-config")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Directory for mosquitto.conf, passwd and acl.")
def broker_config_command(out_dir: Path | None) -> None:
    """Regenerate Mosquitto's config, password file and ACL from the device table. With
    VAFA_MQTT_TLS_CERTFILE, _KEYFILE and _CAFILE set, it adds a TLS listener on
    VAFA_MQTT_TLS_PORT (8883).

    Example: flask --app backend broker-config --out instance/mosquitto
    """
    from backend.broker import BrokerConfigError
    from backend.services import devices

    try:
        path = devices.write_broker_config_for(db.session, current_app.config, out_dir)
    except BrokerConfigError as e:
        raise click.ClickException(str(e)) from None
    db.session.rollback()
    click.echo(str(path))


@click.command("mqtt-worker")
@click.option("--plain", is_flag=True, help="Plain subscription instead of a shared one.")
@click.option("--client-id", default=None,
              help="Stable MQTT client id (default VAFA_MQTT_CLIENT_ID or vafa-worker-<host>); "
                   "each worker needs its own so a restart resumes its session.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics (default "
                   "VAFA_WORKER_METRICS_PORT; 0 = off).")
def mqtt_worker_command(plain: bool, client_id: str | None, metrics_port: int | None) -> None:
    """Answer terminal requests from the broker until interrupted.

    Example: flask --app backend mqtt-worker --client-id vafa-worker-2 --metrics-port 9108
    """
    from backend.metrics import serve_worker_metrics
    from backend.mqtt.worker import Worker

    config = current_app.config
    port = config.get("WORKER_METRICS_PORT", 0) if metrics_port is None else metrics_port
    if port:
        try:
            serve_worker_metrics(port)
        except OSError as error:
            raise click.ClickException(
                f"cannot serve metrics on 127.0.0.1:{port}: {error}") from None
    worker = Worker(
        current_app._get_current_object(),
        host=config["MQTT_BACKEND_HOST"], port=config["MQTT_BACKEND_PORT"],
        username=config["MQTT_USERNAME"], password=config["MQTT_PASSWORD"],
        shared_subscription=config["MQTT_SHARED_SUBSCRIPTION"] and not plain,
        client_id=client_id or config.get("MQTT_CLIENT_ID"),
    )
    try:
        worker.run_forever()
    except KeyboardInterrupt:
        worker.stop()


@click.command("up")
@click.option("--web-workers", default=2, show_default=True, type=click.IntRange(1, 16))
def up_command(web_workers: int) -> None:
    """Migrate, seed the demo club if empty, then run Mosquitto, the MQTT worker and the
    web panel until Ctrl-C. This is what `make run` calls.

    Example: flask --app backend up --web-workers 2
    """
    from backend import supervise

    sys.exit(supervise.up(current_app._get_current_object(), web_workers=web_workers))


@click.command("nightly")
def nightly_command() -> None:
    """Run the nightly jobs once: expire credit, move members between tiers, score LRFM
    and run the segment rules (the jobs process runs them every night by itself).

    All are idempotent, so running twice in a night changes nothing more.

    Example: flask --app backend nightly
    """
    from backend.jobs import daily

    # CLOCK: the app's pinned clock in tests, as the panel's views read it.
    now = current_app.config.get("CLOCK", lambda: datetime.now(UTC))()
    click.echo(daily.nightly(db.session, now))


@click.command("seed-reports")
@click.option("--members", default=100_000, show_default=True, type=click.IntRange(1, 5_000_000))
@click.option("--purchases", default=2_000_000, show_default=True,
              type=click.IntRange(0, 100_000_000))
@click.option("--years", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--seed", "rng_seed", default=1405, show_default=True, type=int,
              help="Random seed: the same seed gives the same data.")
def seed_reports_command(members: int, purchases: int, years: int, rng_seed: int) -> None:
    """Generate members and purchases (with their ledger) for measuring the reports, then
    score LRFM. See docs/reports.md for what is generated.

    Example: flask --app backend seed-reports --members 100000 --purchases 2000000
    """
    from backend.services.reports import lrfm, seed

    now = datetime.now(UTC)

    def progress(done_members: int, done_purchases: int) -> None:
        if done_members % 20_000 == 0 or done_members == members:
            click.echo(f"{done_members:,} members, {done_purchases:,} purchases")

    result = seed.seed_reports(db.session, members=members, purchases=purchases, now=now,
                               years=years, rng_seed=rng_seed, progress=progress)
    lrfm.recompute(db.session, now)
    db.session.commit()
    broken = seed.check_ledger(db.session)
    if broken:
        raise click.ClickException(f"{broken} members' balances differ from their ledger")
    click.echo(f"added {result.members:,} members and {result.purchases:,} purchases in "
               f"{result.seconds:.0f} s; ledger checked")


@click.command("bench-reports")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20))
def bench_reports_command(repeat: int) -> None:
    """Render every report page and print its time (best and median of --repeat runs).

    Example: flask --app backend bench-reports --repeat 3
    """
    from backend.services.reports import bench

    for timing in bench.page_timings(current_app._get_current_object(), repeat=repeat):
        click.echo(f"{timing.best_seconds:7.3f} s  {timing.median_seconds:7.3f} s  "
                   f"{timing.status}  {timing.path}")


@click.command("jobs")
@click.option("--once", is_flag=True,
              help="Run one tick (send a batch, the due daily jobs) and exit.")
@click.option("--tick-seconds", default=2.0, show_default=True,
              type=click.FloatRange(0.1, 60), help="Pause between ticks when idle.")
@click.option("--run", "job_names", multiple=True,
              help="Run these daily jobs now (if not yet run today) and exit.")
def jobs_command(once: bool, tick_seconds: float, job_names: tuple[str, ...]) -> None:
    """Send queued SMS and email, check deliveries and run the daily jobs (nightly
    credit expiry and tier moves, birthdays, anniversaries, expiring credit) until
    Ctrl-C. `make run` starts it; several may run at once on PostgreSQL.

    Example: flask --app backend jobs --once
    """
    import signal
    import threading

    from backend.jobs import daily
    from backend.jobs import scheduler as jobs

    app = current_app._get_current_object()
    if job_names:
        unknown = [name for name in job_names if name not in daily.JOBS_BY_NAME]
        if unknown:
            raise click.BadParameter(
                f"no daily job {unknown[0]!r}; known: {', '.join(daily.JOBS_BY_NAME)}",
                param_hint="--run")
        now = jobs.app_clock(app)()
        for name in job_names:
            summary = daily.run_job(db.session, daily.JOBS_BY_NAME[name], now)
            click.echo(f"{name}: {summary or 'already run today'}")
        return
    scheduler = jobs.Scheduler(app)
    if once:
        report = scheduler.tick()
        click.echo(f"sent {report.dispatch.sent}, retried {report.dispatch.retried}, "
                   f"failed {report.dispatch.failed}, cancelled {report.dispatch.cancelled}; "
                   f"daily: {report.daily or 'nothing due'}")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        scheduler.run_forever(stop, tick_s=tick_seconds)
    except KeyboardInterrupt:
        stop.set()


@click.command("backup")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Backup file (default VAFA_BACKUP_DIR/vafa-<UTC time>.*).")
@click.option("--scheduled", is_flag=True,
              help="Into VAFA_BACKUP_DIR, keep the newest VAFA_BACKUP_KEEP, then run "
                   "VAFA_BACKUP_COPY_COMMAND with the file (what the systemd timer runs).")
@with_appcontext
def backup_command(out_path: Path | None, scheduled: bool) -> None:
    """Write a consistent backup of the database, also while terminals are selling: SQLite's
    online backup API, or pg_dump for PostgreSQL.

    Example: vafa backup --out /srv/backups/vafa-nightly.sqlite3
    """
    from backend.errors import BadRequest
    from backend.services import backups

    config = current_app.config
    url = config["SQLALCHEMY_DATABASE_URI"]
    directory = Path(config.get("BACKUP_DIR") or Path(config["INSTANCE_DIR"]) / "backups")
    if scheduled and out_path is not None:
        raise click.UsageError("--scheduled names its own files: leave out --out")
    try:
        if scheduled:
            result = backups.scheduled_backup(
                url, directory, datetime.now(UTC), keep=config.get("BACKUP_KEEP", 14),
                copy_command=config.get("BACKUP_COPY_COMMAND", ""),
                copy_timeout_s=config.get("BACKUP_COPY_TIMEOUT_S", 600))
            path = result.path
        else:
            path = backups.backup(url, out_path or directory / backups.backup_name(
                url, datetime.now(UTC)))
    except BadRequest as error:
        raise click.ClickException(error.message) from None
    click.echo(str(path))
    if scheduled:
        for removed in result.removed:
            click.echo(f"removed {removed.name} (keeping {config.get('BACKUP_KEEP', 14)})")
        if result.copied is False:
            raise click.ClickException(f"the backup was not copied off the machine: "
                                       f"{result.copy_error}")
        if result.copied:
            click.echo("copied off the machine")
    click.echo("Device keys in it are encrypted: keep a copy of VAFA_ENCRYPTION_KEY or "
               "instance/secret.key apart from the backups.", err=True)


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm that the database is to be replaced.")
@with_appcontext
def restore_command(backup_file: Path, yes: bool) -> None:
    """Replace the database with a backup made by `backup`. Stop the workers and the web
    first; the same encryption key must be configured.

    Example: flask --app backend restore --yes instance/backups/vafa-20261121-093000.sqlite3
    """
    from backend.errors import BadRequest
    from backend.services import backups

    if not yes:
        raise click.ClickException("restore replaces the whole database: add --yes")
    db.engine.dispose()
    try:
        backups.restore(current_app.config["SQLALCHEMY_DATABASE_URI"], backup_file)
    except BadRequest as error:
        raise click.ClickException(error.message) from None
    click.echo(f"restored {backup_file}")


def _read_password(password_stdin: bool, username: str, also_not: tuple[str, ...]) -> str:
    """The new admin's password: one line on stdin (scripts), or typed twice; a weak one
    is refused with the reason (and asked again when typed)."""
    from backend.errors import BadRequest
    from backend.services import first_run

    attempts = 1 if password_stdin else 3
    for attempt in range(attempts):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password for the admin", hide_input=True,
                                    confirmation_prompt="Password again")
        try:
            first_run.check_password_strength(password, username, also_not=also_not)
            return password
        except BadRequest as error:
            message = error.message.split(": ", 1)[-1]
            if attempt == attempts - 1:
                raise click.ClickException(message) from None
            click.echo(message, err=True)
    raise AssertionError("unreachable")


def _upgrade_schema() -> str:
    import flask_migrate

    from backend.database import MIGRATIONS_DIR
    from backend.startup import code_revisions, database_revisions

    _known, heads = code_revisions(MIGRATIONS_DIR)
    if database_revisions(db.engine) != heads:
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR), revision="heads")
    return ", ".join(sorted(database_revisions(db.engine)))


@click.command("migrate")
@with_appcontext
def migrate_command() -> None:
    """Bring the database's schema up to this version (Alembic `upgrade heads`). Part of
    an upgrade: stop, `vafa backup`, install the new version, `vafa migrate`, start.

    Example: vafa migrate
    """
    click.echo(f"database at schema revision {_upgrade_schema()}")


@click.command("init")
@click.option("--name", default=None, help="The club's name in English.")
@click.option("--name-fa", default=None, help="The club's name in Persian (optional).")
@click.option("--currency", type=click.Choice(["toman", "rial"]), default=None,
              help="How the panel shows amounts (stored in rials either way; default toman).")
@click.option("--logo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The club's logo (PNG, JPEG or WebP; optional).")
@click.option("--branch", "branch_name", default=None, help="The first branch's name.")
@click.option("--branch-code", default="main", show_default=True,
              help="The first branch's code (a–z, digits, dash).")
@click.option("--admin", "admin_username", default=None, help="The first admin's username.")
@click.option("--admin-name", default=None, help="The first admin's name.")
@click.option("--password-stdin", is_flag=True,
              help="Read the admin's password from the first line of stdin (for scripts: "
                   "then nothing is asked, and --name, --branch, --admin, --admin-name are "
                   "needed).")
@with_appcontext
def init_command(name: str | None, name_fa: str | None, currency: str | None,
                 logo: Path | None, branch_name: str | None, branch_code: str,
                 admin_username: str | None, admin_name: str | None,
                 password_stdin: bool) -> None:
    """Start a real club on an empty database: migrate, then create the club, its first
    branch and its first admin with a password they choose. Without options it asks.
    (`make run` makes the demo club instead.)

    Example: vafa init --name "Shirin Bakery" --name-fa "شیرینی شیرین" --currency toman \\
    --branch "Tajrish" --admin owner --admin-name "Sara Ahmadi" --password-stdin < pass.txt
    """
    def ask(value, option: str, text: str, **prompt):
        if value is not None:
            return value
        if password_stdin:
            if "default" in prompt:
                return prompt["default"]
            raise click.UsageError(f"{option} is needed with --password-stdin")
        return click.prompt(text, **prompt)

    name = ask(name, "--name", "Club name (English)")
    name_fa = ask(name_fa, "--name-fa", "Club name (Persian)", default="")
    currency = ask(currency, "--currency", "Show amounts in", default="toman",
                   type=click.Choice(["toman", "rial"]))
    branch_name = ask(branch_name, "--branch", "First branch")
    admin_username = ask(admin_username, "--admin", "Admin username")
    admin_name = ask(admin_name, "--admin-name", "Admin's full name")
    from backend.errors import BadRequest
    from backend.services import first_run

    _upgrade_schema()
    if not first_run.setup_needed(db.session):
        raise click.ClickException("this database already has a club; add an admin with "
                                   "`vafa create-admin`")
    db.session.rollback()
    password = _read_password(password_stdin, admin_username.strip().lower(), (name, name_fa))
    instance_dir = Path(current_app.config["INSTANCE_DIR"])
    try:
        admin = first_run.create_club(db.session, first_run.ClubSetup(
            name=name, name_fa=name_fa, currency_display=currency,
            logo=logo.read_bytes() if logo else None, branch_name=branch_name,
            branch_code=branch_code, admin_username=admin_username,
            admin_password=password, admin_full_name=admin_name), instance_dir / "uploads",
            actor=SYSTEM)
    except BadRequest as error:
        raise click.ClickException(error.message) from None
    first_run.forget_setup_code(instance_dir)
    click.echo(f"created the club {name!r} with the branch {branch_name!r} and the admin "
               f"{admin.username!r}; sign in at {current_app.config['PUBLIC_URL']}/login")


@click.command("create-admin")
@click.option("--username", prompt="Admin username")
@click.option("--name", "full_name", prompt="Admin's full name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (for scripts).")
@with_appcontext
def create_admin_command(username: str, full_name: str, password_stdin: bool) -> None:
    """Add an admin login (e.g. when the only admin's password is lost).

    Example: vafa create-admin --username owner2 --name "Reza Karimi"
    """
    from backend.errors import BadRequest
    from backend.models import the_club
    from backend.services import first_run

    club = the_club(db.session)
    also_not = (club.name, club.name_fa) if club else ()
    db.session.rollback()
    password = _read_password(password_stdin, username.strip().lower(), also_not)
    try:
        admin = first_run.create_admin(db.session, username=username, password=password,
                                       full_name=full_name, actor=SYSTEM)
    except BadRequest as error:
        raise click.ClickException(error.message) from None
    click.echo(f"created the admin {admin.username!r}")
