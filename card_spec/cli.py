"""`python -m card_spec`: thin click commands over card_spec and backend.services.cards."""

import json
from pathlib import Path

import click

from card_spec.numbers import normalize_digits


class DigitsInt(click.ParamType):
    """An integer typed with ASCII, Persian or Arabic-Indic digits."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int):
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            number = value
        else:
            text = normalize_digits(str(value).strip())
            if not text.isascii() or not text.isdigit():
                self.fail(f"{value!r} is not a whole number", param, ctx)
            number = int(text)
        if not self.minimum <= number <= self.maximum:
            self.fail(f"must be {self.minimum}–{self.maximum}, got {number}", param, ctx)
        return number


def _prefix(ctx, param, value: str) -> str:
    text = normalize_digits(value.strip())
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        raise click.BadParameter("an issuer prefix has 6 digits", ctx, param)
    return text


def _app(ctx: click.Context, database_url: str | None):
    """The backend app: the one a caller passed in `ctx.obj["app"]` (tests), or one built
    from the environment (DATABASE_URL, VAFA_INSTANCE_DIR) like `flask --app backend`."""
    if ctx.obj and ctx.obj.get("app") is not None:
        return ctx.obj["app"]
    from backend import create_app
    from backend.config import Config

    environ = None
    if database_url:
        import os

        environ = {**os.environ, "DATABASE_URL": database_url}
    return create_app(Config(environ))


@click.group()
def cli() -> None:
    """Vafa card tools: card batches for the printing house."""


def _uploads_dir(app) -> Path:
    return Path(app.config["INSTANCE_DIR"]) / "uploads"


@cli.command("batch")
@click.option("--count", required=True, type=DigitsInt(1, 100_000),
              help="How many cards (Persian digits accepted).")
@click.option("--prefix", default="990001", show_default=True, callback=_prefix,
              help="6-digit issuer prefix.")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the files; must not exist or be empty.")
@click.option("--label", default="", help="Batch label printed in the CSV (default batch-<id>).")
@click.option("--logo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Club logo (PNG/JPEG) for the card front; default: the panel's logo, "
                   "else the club's initial.")
@click.option("--club-name", default=None, help="Name on the cards (default: the club's).")
@click.option("--database-url", envvar="DATABASE_URL", default=None,
              help="Database to allocate serials in (default: DATABASE_URL, else instance/).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def batch(ctx, count: int, prefix: str, out_dir: Path, label: str, logo: Path | None,
          club_name: str | None, database_url: str | None, as_json: bool) -> None:
    """Allocate COUNT new card numbers and write the printing house's files.

    Serials come from the backend's database (never reused, no gaps, safe while other
    batches run) and start after every card already issued under the prefix. Writes
    cards.csv, sheet.pdf (A4, crop marks, duplex), artwork/front.png,
    artwork/<number>-back.png and barcodes/<number>.svg|png (Code 128, 300 dpi).

    Example: python -m card_spec batch --count 500 --prefix 990001 --out batches/2026-11
    """
    from backend.errors import DomainError
    from backend.extensions import db
    from backend.services import cards
    from card_spec import printing

    if out_dir.exists() and any(out_dir.iterdir()):
        raise click.ClickException(f"{out_dir} is not empty; choose a new directory")
    app = _app(ctx, database_url)
    with app.app_context():
        try:
            result = cards.create_batch(db.session, prefix=prefix, count=count, label=label)
            db.session.commit()  # releases the serial counter before the slow part
        except DomainError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        artwork = cards.artwork(db.session, _uploads_dir(app), club_name=club_name, logo=logo)
    numbers = result.numbers
    files = printing.write_batch(out_dir, numbers, batch_label=result.label, artwork=artwork)
    summary = {
        "batch_id": result.id, "label": result.label, "prefix": prefix,
        "first_serial": result.first_serial, "count": result.count,
        "first_number": numbers[0], "last_number": numbers[-1],
        "out": str(out_dir), "csv": str(files.csv), "pdf": str(files.pdf),
        "pdf_pages": files.pages,
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"batch {result.id} ({result.label}): {count} cards "
                   f"{numbers[0]} … {numbers[-1]}")
        click.echo(f"files in {out_dir}: cards.csv, sheet.pdf ({files.pages} pages), "
                   "artwork/, barcodes/")


@cli.command("files")
@click.option("--batch", "batch_id", required=True, type=DigitsInt(1, 2**31 - 1),
              help="Id of a recorded batch (see the panel's card batches page).")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the files; must not exist or be empty.")
@click.option("--logo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Club logo for the card front; default: the panel's logo.")
@click.option("--club-name", default=None, help="Name on the cards (default: the club's).")
@click.option("--database-url", envvar="DATABASE_URL", default=None,
              help="The backend's database (default: DATABASE_URL, else instance/).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def files(ctx, batch_id: int, out_dir: Path, logo: Path | None, club_name: str | None,
          database_url: str | None, as_json: bool) -> None:
    """Write the printing house's files of a batch already recorded (a reprint, a batch
    made in the panel, or one too large for the panel's download). Allocates nothing.

    Example: python -m card_spec files --batch 7 --out batches/7
    """
    from backend.errors import DomainError
    from backend.extensions import db
    from backend.services import cards
    from card_spec import printing

    if out_dir.exists() and any(out_dir.iterdir()):
        raise click.ClickException(f"{out_dir} is not empty; choose a new directory")
    app = _app(ctx, database_url)
    with app.app_context():
        try:
            batch = cards.get_batch(db.session, batch_id)
        except DomainError as error:
            raise click.ClickException(error.message) from None
        artwork = cards.artwork(db.session, _uploads_dir(app), club_name=club_name, logo=logo)
    written = printing.write_batch(out_dir, batch.numbers, batch_label=batch.label,
                                   artwork=artwork)
    summary = {"batch_id": batch.id, "label": batch.label, "count": batch.count,
               "first_number": batch.numbers[0], "last_number": batch.numbers[-1],
               "out": str(out_dir), "csv": str(written.csv), "pdf": str(written.pdf),
               "pdf_pages": written.pages}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"batch {batch.id} ({batch.label}): files of {batch.count} cards in {out_dir}")
