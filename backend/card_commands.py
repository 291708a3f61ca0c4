"""`vafa cards …` (or `flask --app backend cards …`): card batches for the printing house.

Thin click commands over backend.services.cards (serials in the database) and
card_spec.printing (the files). They live with the backend's CLI because they need its
database; card_spec stays a library the backend uses and never the other way round.
"""

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.errors import DomainError
from backend.extensions import db
from backend.services import cards
from backend.unit_of_work import SYSTEM
from card_spec import printing
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


def _empty_dir(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise click.ClickException(f"{out_dir} is not empty; choose a new directory")


def _uploads_dir() -> Path:
    return Path(current_app.config["INSTANCE_DIR"]) / "uploads"


def _echo_summary(summary: dict, as_json: bool, text: str) -> None:
    click.echo(json.dumps(summary) if as_json else text)


@click.group("cards")
def cards_group() -> None:
    """Card batches for the printing house (features C1, C2; docs/card-spec.md)."""


logo_option = click.option(
    "--logo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Club logo (PNG/JPEG) for the card front; default: the panel's logo, else the "
         "club's initial.")
club_name_option = click.option("--club-name", default=None,
                                 help="Name on the cards (default: the club's).")
out_option = click.option("--out", "out_dir", required=True,
                          type=click.Path(file_okay=False, path_type=Path),
                          help="Directory for the files; must not exist or be empty.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@cards_group.command("batch")
@click.option("--count", required=True, type=DigitsInt(1, 100_000),
              help="How many cards (Persian digits accepted).")
@click.option("--prefix", default="990001", show_default=True, callback=_prefix,
              help="6-digit issuer prefix.")
@out_option
@click.option("--label", default="", help="Batch label printed in the CSV (default batch-<id>).")
@logo_option
@club_name_option
@json_option
@with_appcontext
def batch_command(count: int, prefix: str, out_dir: Path, label: str, logo: Path | None,
                  club_name: str | None, as_json: bool) -> None:
    """Allocate COUNT new card numbers and write the printing house's files.

    Serials come from the backend's database (DATABASE_URL; never reused, no gaps, safe
    while other batches run) and start after every card already issued under the prefix.
    Writes cards.csv, sheet.pdf (A4, crop marks, duplex), artwork/front.png,
    artwork/<number>-back.png and barcodes/<number>.svg|png (Code 128, 300 dpi).

    Example: vafa cards batch --count 500 --prefix 990001 --out batches/2026-11
    """
    _empty_dir(out_dir)
    try:
        # Its unit of work commits, releasing the serial counter before the slow part.
        result = cards.create_batch(db.session, actor=SYSTEM, prefix=prefix, count=count,
                                    label=label)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    artwork = cards.artwork(db.session, _uploads_dir(), club_name=club_name, logo=logo)
    db.session.rollback()
    numbers = result.numbers
    files = printing.write_batch(out_dir, numbers, batch_label=result.label, artwork=artwork)
    summary = {
        "batch_id": result.id, "label": result.label, "prefix": prefix,
        "first_serial": result.first_serial, "count": result.count,
        "first_number": numbers[0], "last_number": numbers[-1],
        "out": str(out_dir), "csv": str(files.csv), "pdf": str(files.pdf),
        "pdf_pages": files.pages,
    }
    _echo_summary(summary, as_json,
                  f"batch {result.id} ({result.label}): {count} cards "
                  f"{numbers[0]} … {numbers[-1]}\nfiles in {out_dir}: cards.csv, sheet.pdf "
                  f"({files.pages} pages), artwork/, barcodes/")


@cards_group.command("files")
@click.option("--batch", "batch_id", required=True, type=DigitsInt(1, 2**31 - 1),
              help="Id of a recorded batch (see the panel's card batches page).")
@out_option
@logo_option
@club_name_option
@json_option
@with_appcontext
def files_command(batch_id: int, out_dir: Path, logo: Path | None, club_name: str | None,
                  as_json: bool) -> None:
    """Write the printing house's files of a batch already recorded (a reprint, a batch
    made in the panel, or one too large for the panel's download). Allocates nothing.

    Example: vafa cards files --batch 7 --out batches/7
    """
    _empty_dir(out_dir)
    try:
        batch = cards.get_batch(db.session, batch_id)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    artwork = cards.artwork(db.session, _uploads_dir(), club_name=club_name, logo=logo)
    db.session.rollback()
    written = printing.write_batch(out_dir, batch.numbers, batch_label=batch.label,
                                   artwork=artwork)
    summary = {"batch_id": batch.id, "label": batch.label, "count": batch.count,
               "first_number": batch.numbers[0], "last_number": batch.numbers[-1],
               "out": str(out_dir), "csv": str(written.csv), "pdf": str(written.pdf),
               "pdf_pages": written.pages}
    _echo_summary(summary, as_json,
                  f"batch {batch.id} ({batch.label}): files of {batch.count} cards in {out_dir}")
