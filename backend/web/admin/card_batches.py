"""Card batches from the panel (C2, C3): the same allocation and files as
`vafa cards batch`, and the batch's cards in stock until they are handed out."""

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from backend.models import CardBatch
from backend.services import cards
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import CardBatchForm
from backend.web.auth import permission_required
from backend.web.common import apply_error, clock, page_number, paginate, staff_actor
from backend.web.fields import shown_number
from card_spec import make_card_number

DEFAULT_PREFIX = "990001"


def _instance_dir(name: str):
    return current_app.config["INSTANCE_DIR"] / name


@bp.route("/card-batches", methods=["GET", "POST"])
@permission_required("devices")
def card_batches(user):
    form = CardBatchForm()
    status = 200
    if request.method == "GET":
        latest = db.session.scalars(select(CardBatch).order_by(CardBatch.id.desc())).first()
        form.prefix.data = latest.prefix if latest else DEFAULT_PREFIX
    else:
        status = 400
        if form.validate_on_submit():
            try:
                batch = cards.create_batch(db.session, actor=staff_actor(user),
                                           prefix=form.prefix.data, count=form.count.data,
                                           label=form.label.data or "", now=clock(),
                                           max_count=cards.MAX_FILES_BATCH)
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Batch %(label)s: %(count)s cards, %(first)s to %(last)s, are in "
                              "stock. Download the files for the printing house below.",
                              label=batch.label, count=shown_number(batch.count),
                              first=shown_number(batch.numbers[0]),
                              last=shown_number(batch.numbers[-1])), "success")
                return redirect(url_for("admin.card_batches"))
    page = paginate(select(CardBatch).order_by(CardBatch.id.desc()),
                    page_number(request.args.get("page")))
    stock = cards.stock_counts(db.session, [row.id for row in page.rows])
    return render_template("catalogue/card_batches.html", user=user, form=form, page=page,
                           stock=stock, max_files=cards.MAX_FILES_BATCH,
                           cli_command=cli_command, card_number=make_card_number), status


@bp.get("/card-batches/<int:batch_id>/files.zip")
@permission_required("devices")
def card_batch_files(user, batch_id: int):
    """The printing house's files (CSV, barcodes, artwork, PDF sheet) as one zip."""
    row = db.session.get(CardBatch, batch_id)
    if row is None:
        abort(404)
    if row.count > cards.MAX_FILES_BATCH:
        flash(gettext("This batch is too large to prepare here; write its files with: "
                      "%(command)s", command=cli_command(batch_id)), "error")
        return redirect(url_for("admin.card_batches"))
    path = cards.batch_files_zip(db.session, batch_id, _instance_dir("card-batches"),
                                 _instance_dir("uploads"))
    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=f"cards-batch-{batch_id}.zip")


def cli_command(batch_id: int) -> str:
    return f"vafa cards files --batch {batch_id} --out cards-batch-{batch_id}"
