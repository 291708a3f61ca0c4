"""News and events, the FAQ and surveys (the "offers" permission: what members are told
and asked), survey reports ("reports"), the happy-call list (every operator, their
branch's calls) and each staff user's own API integration tokens."""

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from backend.models import ApiToken, Branch, FaqEntry, NewsPost, Purchase, Survey
from backend.services import api_tokens, branding, content, happy_calls, surveys
from backend.services.permissions import branch_scope
from backend.web.admin.blueprint import bp
from backend.web.admin.catalogue import _local_day, _local_end_of_day_utc, _local_midnight_utc
from backend.web.admin.forms import ApiTokenForm, CallForm, FaqForm, NewsForm, SurveyForm
from backend.web.auth import login_required, permission_required
from backend.web.common import apply_error, clock, page_number, paginate, staff_actor

# ---- news and events ---------------------------------------------------------------------

@bp.get("/news")
@permission_required("offers")
def news_list(user):
    page = paginate(select(NewsPost).order_by(NewsPost.publish_from.desc(), NewsPost.id.desc()),
                    page_number(request.args.get("page")))
    return render_template("engagement/news_list.html", user=user, page=page, now=clock(),
                           post_state=content.post_state)


@bp.route("/news/new", methods=["GET", "POST"])
@bp.route("/news/<int:post_id>", methods=["GET", "POST"])
@permission_required("offers")
def news_edit(user, post_id: int | None = None):
    row = db.session.get(NewsPost, post_id) if post_id is not None else None
    if post_id is not None and row is None:
        abort(404)
    if row is not None and request.method == "GET":
        form = NewsForm(data={"kind": row.kind, "title": row.title, "body": row.body,
                              "event_on": _local_day(row.event_at),
                              "publish_on": _local_day(row.publish_from),
                              "publish_until_on": _local_day(row.publish_until),
                              "tier_codes": row.tier_codes, "is_active": row.is_active})
    else:
        form = NewsForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            values = {"kind": form.kind.data, "title": form.title.data,
                      "body": (form.body.data or "").strip(),
                      "event_at": _local_midnight_utc(form.event_on.data),
                      "publish_from": _local_midnight_utc(form.publish_on.data),
                      "publish_until": _local_end_of_day_utc(form.publish_until_on.data),
                      "tier_codes": form.tier_codes.data or "", "is_active": form.is_active.data}
            try:
                upload = request.files.get("image")
                if upload is not None and upload.filename:
                    values["image_filename"] = branding.store_image(
                        upload.read(branding.MAX_LOGO_BYTES + 1),
                        current_app.config["INSTANCE_DIR"] / "uploads", field="image",
                        prefix="news", box=branding.NEWS_IMAGE_BOX)
                content.save_post(db.session, post_id, values, clock(), actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error, {"publish_until": "publish_until_on",
                                          "event_at": "event_on"})
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.news_list"))
    return render_template("engagement/form.html", user=user, form=form, multipart=True,
                           title=gettext("News and events"), back=url_for("admin.news_list"),
                           row=row), status


# ---- FAQ ---------------------------------------------------------------------------------

@bp.get("/faq")
@permission_required("offers")
def faq_list(user):
    page = paginate(select(FaqEntry).order_by(FaqEntry.position, FaqEntry.id),
                    page_number(request.args.get("page")))
    return render_template("engagement/faq_list.html", user=user, page=page)


@bp.route("/faq/new", methods=["GET", "POST"])
@bp.route("/faq/<int:entry_id>", methods=["GET", "POST"])
@permission_required("offers")
def faq_edit(user, entry_id: int | None = None):
    row = db.session.get(FaqEntry, entry_id) if entry_id is not None else None
    if entry_id is not None and row is None:
        abort(404)
    form = FaqForm(obj=row) if row is not None and request.method == "GET" else FaqForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                content.save_faq(db.session, entry_id, {
                    "question": form.question.data, "answer": form.answer.data,
                    "position": form.position.data or 0, "is_active": form.is_active.data},
                    actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.faq_list"))
    return render_template("engagement/form.html", user=user, form=form, multipart=False,
                           title=gettext("Frequently asked questions"),
                           back=url_for("admin.faq_list"), row=row), status


# ---- surveys -----------------------------------------------------------------------------

@bp.get("/surveys")
@permission_required("offers")
def surveys_list(user):
    page = paginate(select(Survey).order_by(Survey.id.desc()),
                    page_number(request.args.get("page")))
    return render_template("engagement/surveys.html", user=user, page=page)


@bp.route("/surveys/new", methods=["GET", "POST"])
@bp.route("/surveys/<int:survey_id>", methods=["GET", "POST"])
@permission_required("offers")
def survey_edit(user, survey_id: int | None = None):
    row = db.session.get(Survey, survey_id) if survey_id is not None else None
    if survey_id is not None and (row is None or row.code is not None):
        abort(404)  # the happy-call survey's questions are fixed
    if row is not None and request.method == "GET":
        form = SurveyForm(data={"title": row.title, "description": row.description,
                                "questions": surveys.questions_text(
                                    row, g.get("language", "fa")),
                                "is_active": row.is_active})
    else:
        form = SurveyForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                surveys.save_survey(db.session, survey_id, title=form.title.data,
                                    description=form.description.data or "",
                                    is_active=form.is_active.data,
                                    questions=surveys.parse_questions(form.questions.data),
                                    now=clock(), actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.surveys_list"))
    return render_template("engagement/form.html", user=user, form=form, multipart=False,
                           title=gettext("Surveys"), back=url_for("admin.surveys_list"),
                           row=row), status


@bp.get("/surveys/<int:survey_id>/report")
@permission_required("reports")
def survey_report(user, survey_id: int):
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        abort(404)
    return render_template("engagement/report.html", user=user,
                           report=surveys.report(db.session, survey))


@bp.get("/surveys/happy-call/report")
@permission_required("reports")
def happy_call_report(user):
    survey = surveys.find_happy_call_survey(db.session)  # a GET makes nothing
    if survey is None:
        flash(gettext("No happy call has been answered yet."), "info")
        return redirect(url_for("admin.surveys_list"))
    return redirect(url_for("admin.survey_report", survey_id=survey.id))


# ---- happy calls -------------------------------------------------------------------------

@bp.get("/calls")
@permission_required("members")
def calls_list(user):
    state = request.args.get("state", "open")
    if state not in ("open", "due", "overdue", "closed"):
        state = "open"
    scope = branch_scope(user)
    branch_id = scope if scope is not None else request.args.get("branch", type=int)
    statement = happy_calls.call_list_statement(branch_id=branch_id, state=state, now=clock())
    page = paginate(statement, page_number(request.args.get("page")))
    branches = db.session.scalars(select(Branch).order_by(Branch.name)).all() \
        if scope is None else []
    return render_template("engagement/calls.html", user=user, page=page, state=state,
                           branch=branch_id, branches=branches, now=clock(),
                           call_state=happy_calls.call_state)


@bp.route("/calls/<int:task_id>", methods=["GET", "POST"])
@permission_required("members")
def call_detail(user, task_id: int):
    task = happy_calls.visible_task(db.session, task_id, branch_scope(user))
    if task is None:
        abort(404)  # another branch's call, or none: the same answer
    # Read only: the survey is made by the first answered call (record_call).
    questions = surveys.happy_call_questions(db.session)
    form = CallForm()
    status = 200
    answers = {}
    if request.method == "POST":
        status = 400
        answers = {str(question.position):
                   request.form.get(f"q{question.position}", "")[:2000]
                   for question in questions}
        if form.validate_on_submit():
            try:
                happy_calls.record_call(
                    db.session, actor=staff_actor(user), task_id=task.id,
                    branch_id=branch_scope(user), outcome=form.outcome.data,
                    answers=answers if form.outcome.data == "answered" else {},
                    note=form.note.data or "", now=clock())
            except DomainError as error:
                apply_error(form, error, {"outcome": "outcome"})
                if getattr(error, "field", "").startswith("q"):
                    flash(gettext("Answer every rating (1 to 5)."), "error")
            else:
                flash(gettext("Call recorded."), "success")
                return redirect(url_for("admin.calls_list"))
    purchase = db.session.get(Purchase, task.purchase_id)
    return render_template("engagement/call.html", user=user, task=task, purchase=purchase,
                           questions=questions, form=form, answers=answers, now=clock()), status


# ---- API integration tokens --------------------------------------------------------------

@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def api_tokens_page(user):
    """A staff user's own long-lived tokens for integrations (O5): each acts with this
    user's rights; the token is shown once, only its hash is kept."""
    form = ApiTokenForm()
    issued, status = None, 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                issued = api_tokens.issue_integration(
                    db.session, name=form.name.data, valid_days=form.valid_days.data,
                    now=clock(), actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error)
            else:
                status = 201
                form = ApiTokenForm(formdata=None)
    rows = db.session.scalars(select(ApiToken).where(
        ApiToken.staff_user_id == user.id, ApiToken.kind == "integration")
        .order_by(ApiToken.id.desc())).all()
    return render_template("engagement/api_tokens.html", user=user, form=form, rows=rows,
                           issued=issued, now=clock(), token_state=api_tokens.token_state), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def api_token_revoke(user, token_id: int):
    row = db.session.get(ApiToken, token_id)
    if row is None or row.staff_user_id != user.id or row.kind != "integration":
        abort(404)
    api_tokens.revoke_integration(db.session, token_id, clock(), actor=staff_actor(user))
    flash(gettext("Token revoked."), "success")
    return redirect(url_for("admin.api_tokens_page"))

