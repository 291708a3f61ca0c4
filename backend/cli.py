"""`flask --app backend …` commands: thin wrappers over services."""

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend.extensions import db


def init_app(app: Flask) -> None:
    for command in (seed_demo_command, mqtt_worker_command, broker_config_command, up_command,
                    nightly_command, backup_command, restore_command):
        app.cli.add_command(command)


def _devices_dir() -> Path:
    return Path(current_app.config["INSTANCE_DIR"]) / "devices"


def tls_listener(config):
    """The TLS listener the configuration asks for, or None (all three files or none)."""
    from backend.broker import TlsListener

    files = [config.get(name, "") for name in ("MQTT_TLS_CERTFILE", "MQTT_TLS_KEYFILE",
                                               "MQTT_TLS_CAFILE")]
    if not any(files):
        return None
    if not all(files) or not all(Path(name).is_file() for name in files):
        raise click.ClickException("VAFA_MQTT_TLS_CERTFILE, _KEYFILE and _CAFILE must all "
                                   "name existing files")
    return TlsListener(config["MQTT_TLS_PORT"], *(Path(name) for name in files))


def _broker_dir() -> Path:
    return Path(current_app.config["INSTANCE_DIR"]) / "mosquitto"


def write_demo(result) -> list[Path]:
    from backend.services import devices

    return [
        devices.write_terminal_config(
            devices.terminal_config(
                db.session, credentials,
                mqtt_host=current_app.config["MQTT_HOST"],
                mqtt_port=current_app.config["MQTT_PORT"],
            ),
            _devices_dir(),
        )
        for credentials in result.terminals
    ]


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when a club already exists.")
def seed_demo_command(if_empty: bool) -> None:
    """Create the demo club: 2 branches, staff, tiers, 100 members, 2 terminals.

    Terminal configs (with their secrets) are written to instance/devices/<id>/config.json.

    Example: flask --app backend seed-demo --if-empty
    """
    from backend.services import demo

    if demo.club_exists(db.session):
        if if_empty:
            click.echo("demo club already present; nothing to do")
            return
        raise click.ClickException("the database already has a club; use an empty database")
    result = demo.seed_demo(db.session, datetime.now(UTC))
    paths = write_demo(result)
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
    from backend.services import devices

    path = devices.write_broker_config(
        db.session, out_dir or _broker_dir(),
        port=current_app.config["MQTT_PORT"],
        backend_username=current_app.config["MQTT_USERNAME"],
        backend_password=current_app.config["MQTT_PASSWORD"],
        tls=tls_listener(current_app.config),
    )
    db.session.rollback()
    click.echo(str(path))


@click.command("mqtt-worker")
@click.option("--plain", is_flag=True, help="Plain subscription instead of a shared one.")
@click.option("--client-id", default=None,
              help="Stable MQTT client id (default VAFA_MQTT_CLIENT_ID or vafa-worker-<host>); "
                   "each worker needs its own so a restart resumes its session.")
def mqtt_worker_command(plain: bool, client_id: str | None) -> None:
    """Answer terminal requests from the broker until interrupted.

    Example: flask --app backend mqtt-worker --client-id vafa-worker-2
    """
    from backend.mqtt.worker import Worker

    config = current_app.config
    worker = Worker(
        current_app._get_current_object(),
        host=config["MQTT_HOST"], port=config["MQTT_PORT"],
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
    """Run the nightly jobs once: expire credit, then move members between tiers.

    Both are idempotent, so running twice in a night changes nothing more.

    Example: flask --app backend nightly
    """
    from backend.services import tiers, wallet

    now = datetime.now(UTC)
    expired = wallet.expire_credit(db.session, now)
    changes = tiers.evaluate_all(db.session, now)
    click.echo(f"expired {expired:,} rials of credit; {len(changes)} tier changes")


@click.command("backup")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Backup file (default instance/backups/vafa-<UTC time>.*).")
@with_appcontext
def backup_command(out_path: Path | None) -> None:
    """Write a consistent backup of the database, also while terminals are selling: SQLite's
    online backup API, or pg_dump for PostgreSQL.

    Example: flask --app backend backup --out /srv/backups/vafa-nightly.sqlite3
    """
    from backend.errors import BadRequest
    from backend.services import backups

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if out_path is None:
        suffix = "sqlite3" if url.startswith("sqlite") else "dump"
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out_path = Path(current_app.config["INSTANCE_DIR"]) / "backups" / f"vafa-{stamp}.{suffix}"
    try:
        path = backups.backup(url, out_path)
    except BadRequest as error:
        raise click.ClickException(error.message) from None
    click.echo(str(path))
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
