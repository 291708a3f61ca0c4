"""Member import pages (M3): the template, the upload, the preview with per-row errors,
commit (the good rows) or discard (none), the result file and the history.

A blueprint nested in the panel's (`admin.member_import`, under /import) that the
navigation links to; every view checks the "settings" permission. The upload is kept under a random
token in the instance dir until it is committed or discarded; only its uploader sees its
preview. The rules live in backend.services.member_import.
"""

import io
from datetime import datetime
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import format_number
from backend.models import MemberImport
from backend.services import member_import as service
from backend.services.permissions import branch_scope
from backend.web.admin.forms import ImportCommitForm, ImportDiscardForm, ImportUploadForm
from backend.web.auth import permission_required
from backend.web.common import (
    PAGE_SIZE,
    Page,
    clock,
    page_number,
    paginate,
    staff_actor,
    translate_error,
)
from card_spec import normalize_digits

bp = Blueprint("member_import", __name__, url_prefix="/import")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_QUERY_LENGTH = 64


def _directory() -> Path:
    return Path(current_app.config["INSTANCE_DIR"]) / "imports"


def _language() -> str:
    return g.get("language", "fa")


def _file_error(error: service.ImportFileError) -> str:
    params = {key: format_number(value, _language()) if isinstance(value, int) else value
              for key, value in error.params.items()}
    return gettext(error.message, **params)


def _labels() -> dict[str, str]:
    """Column names in the viewer's language: the Persian label, or the English key."""
    language = _language()
    return {column.key: column.label_fa if language == "fa" else column.key
            for column in service.import_columns(db.session)}


def _explainer():
    """Turns a stored row error into "column: message" in the viewer's language."""
    language = _language()
    labels = _labels()

    def explain(error: dict) -> str:
        params = {key: format_number(value, language) if isinstance(value, int) else value
                  for key, value in error["params"].items()}
        label = labels.get(error["column"], error["column"].removeprefix("custom_"))
        return f"{label}: {gettext(error['message'], **params)}"

    return explain


def _own_upload(user, token: str) -> dict:
    """The preview of the user's own pending upload, or 404."""
    meta = service.load_meta(_directory(), token)
    if meta is None or meta.get("staff_user_id") != user.id or "digest" not in meta:
        abort(404)
    return meta


@bp.route("", methods=["GET", "POST"])
@permission_required("settings")
def upload(user):
    form = ImportUploadForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            token = None
            upload_file = form.file.data
            try:
                token = service.store_upload(
                    upload_file.read(service.MAX_FILE_BYTES + 1), _directory(),
                    filename=upload_file.filename or "", staff_user_id=user.id, now=clock())
                checked = service.check_file(db.session, service.upload_path(_directory(), token),
                                             branch_id=branch_scope(user))
            except service.ImportFileError as error:
                if token is not None:
                    service.delete_upload(_directory(), token)
                form.file.errors = [*form.file.errors, _file_error(error)]
            else:
                service.save_preview(_directory(), token, checked)
                return redirect(url_for(".preview", token=token))
    statement = select(MemberImport).order_by(MemberImport.id.desc())
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        statement = statement.where(MemberImport.filename.ilike(f"%{query}%"))
    outcome = request.args.get("status", "")
    if outcome in ("committed", "discarded"):
        statement = statement.where(MemberImport.status == outcome)
    history = paginate(statement, page_number(request.args.get("page")))
    return render_template("member_import/upload.html", user=user, form=form,
                           history=history, q=query, status=outcome,
                           max_rows=service.MAX_ROWS,
                           max_megabytes=service.MAX_FILE_BYTES // (1024 * 1024)), status


@bp.get("/template.xlsx")
@permission_required("settings")
def template(user):
    return send_file(io.BytesIO(service.template_workbook(db.session)), mimetype=XLSX,
                     as_attachment=True, download_name="vafa-members-template.xlsx")


def _rejected_page(columns: list, rows: list[dict]):
    """The refused rows, filtered by column with errors and searched in their cells."""
    column = request.args.get("column", "")
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    chosen = rows
    if column:
        chosen = [row for row in chosen
                  if any(error["column"] == column for error in row["errors"])]
    if query:
        typed = normalize_digits(query)
        if typed.isdigit() and not typed.startswith("0") and len(typed) <= 5:
            chosen = [row for row in chosen if str(row["row"]) == typed]  # a row number
        else:
            chosen = [row for row in chosen
                      if any(typed in normalize_digits(text) for text in row["values"])]
    number = page_number(request.args.get("page"))
    start = (number - 1) * PAGE_SIZE
    keys = [key for key, _ in columns]
    error_columns = sorted({error["column"] for row in rows for error in row["errors"]},
                           key=lambda key: keys.index(key) if key in keys else len(keys))
    return Page(chosen[start:start + PAGE_SIZE], len(chosen), number, PAGE_SIZE), \
        column, query, error_columns


def _name_of(columns: list, values: list) -> str:
    keys = [key for key, _ in columns]
    parts = [values[keys.index(key)] for key in ("first_name", "last_name") if key in keys]
    return " ".join(part for part in parts if part)


@bp.get("/<token>")
@permission_required("settings")
def preview(user, token: str):
    return _render_preview(user, token)


def _render_preview(user, token: str, commit_form: ImportCommitForm | None = None,
                    status: int = 200):
    """A pending upload's preview, or a finished import's result (same page)."""
    record = service.find_import(db.session, token)
    if record is not None:
        columns, rows = record.rejected.get("columns", []), record.rejected.get("rows", [])
        meta = None
    else:
        meta = _own_upload(user, token)
        columns, rows = meta["columns"], meta["rejected"]
    page, column, query, error_columns = _rejected_page(columns, rows)
    if commit_form is None:
        commit_form = ImportCommitForm(formdata=None, digest=meta["digest"] if meta else "")
    return render_template(
        "member_import/preview.html", user=user, token=token, record=record, meta=meta,
        page=page, column=column, q=query, error_columns=error_columns,
        labels=_labels(), name_of=lambda values: _name_of(columns, values),
        explain=_explainer(), commit_form=commit_form,
        discard_form=ImportDiscardForm(formdata=None)), status


@bp.post("/<token>/commit")
@permission_required("settings")
def commit(user, token: str):
    if service.find_import(db.session, token) is not None:
        # A re-posted commit (double click, browser retry): nothing is imported twice.
        flash(gettext("This file was imported already."), "success")
        return redirect(url_for(".preview", token=token))
    meta = _own_upload(user, token)
    form = ImportCommitForm()
    if not form.validate_on_submit():
        return _render_preview(user, token, form, 400)
    path = service.upload_path(_directory(), token)
    try:
        if path is None:
            raise service.ImportFileError("This is not an .xlsx file.")
        checked = service.check_file(db.session, path, branch_id=branch_scope(user))
    except service.ImportFileError as error:
        flash(_file_error(error), "error")
        return redirect(url_for(".preview", token=token))
    if checked.digest() != form.digest.data:
        service.save_preview(_directory(), token, checked)
        flash(gettext("The club's members changed since the preview: check it again, "
                      "then import."), "error")
        return redirect(url_for(".preview", token=token))
    if not checked.good:
        flash(gettext("No row can be imported."), "error")
        return redirect(url_for(".preview", token=token))
    try:
        record = service.import_rows(
            db.session, checked, token=token, filename=meta.get("filename", ""),
            actor=staff_actor(user), uploaded_at=datetime.fromisoformat(meta["uploaded_at"]),
            give_welcome_credit=form.give_welcome_credit.data, now=clock())
    except DomainError as error:
        flash(translate_error(error), "error")
        return redirect(url_for(".preview", token=token))
    service.delete_upload(_directory(), token)
    flash(gettext("%(count)s members imported.",
                  count=format_number(record.rows_imported, _language())), "success")
    return redirect(url_for(".preview", token=token))


@bp.post("/<token>/discard")
@permission_required("settings")
def discard(user, token: str):
    if service.find_import(db.session, token) is not None:
        return redirect(url_for(".preview", token=token))
    meta = _own_upload(user, token)
    if not ImportDiscardForm().validate_on_submit():
        abort(400)
    service.discard(db.session, meta, token=token, actor=staff_actor(user),
                    now=clock())
    service.delete_upload(_directory(), token)
    flash(gettext("Nothing was imported."), "success")
    return redirect(url_for(".upload"))


@bp.get("/<token>/rejected.xlsx")
@permission_required("settings")
def rejected(user, token: str):
    """The result file: the refused rows with their reasons, in the viewer's language."""
    record = service.find_import(db.session, token)
    if record is not None:
        columns, rows = record.rejected.get("columns", []), record.rejected.get("rows", [])
    else:
        meta = _own_upload(user, token)
        columns, rows = meta["columns"], meta["rejected"]
    data = service.rejected_workbook(columns, rows, _explainer())
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=f"rejected-rows-{token[:8]}.xlsx")
