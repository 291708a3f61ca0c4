"""`python -m provisioning`: thin click commands over provisioning's library functions."""

import json
from pathlib import Path

import click

from provisioning import terminal_config


@click.group()
def cli() -> None:
    """Vafa technician tools: check and prepare card-reader terminals."""


@cli.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check_config(path: Path, as_json: bool) -> None:
    """Check a terminal's config.json before copying it to the device.

    Example: python -m provisioning check-config instance/devices/t01/config.json
    """
    try:
        found = terminal_config.problems(terminal_config.load(path))
    except ValueError as error:
        found = [str(error)]
    if as_json:
        click.echo(json.dumps({"path": str(path), "ok": not found, "problems": found}))
    elif not found:
        click.echo(f"{path}: ok")
    else:
        for problem in found:
            click.echo(f"{path}: {problem}", err=True)
    if found:
        raise SystemExit(1)
