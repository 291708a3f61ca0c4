"""The portal's news and events, surveys and FAQ (P2, P3). Registered on the portal's
blueprint; the same rule holds: a member reads only what is theirs to read, and a survey
or post they may not see answers 404 whether it exists or not."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from backend.errors import DomainError
from backend.extensions import db
from backend.models import Member, NewsPost, StaffUser
from backend.services import api_tokens, content, surveys
from backend.services.permissions import allowed
from backend.web.common import clock, page_number, paginate
from backend.web.portal.blueprint import bp, current_member, member_required

NEWS_PAGE_SIZE = 10


@bp.get("/news")
@member_required
def news(member):
    page = paginate(content.visible_posts_statement(member, clock()),
                    page_number(request.args.get("page")), size=NEWS_PAGE_SIZE)
    open_surveys = db.session.scalars(surveys.open_surveys_statement(member).limit(5)).all()
    return render_template("portal/news.html", member=member, page=page,
                           open_surveys=open_surveys)


def _image_reader():
    """Who asks for a news image: the portal's signed-in member, else the owner of a
    bearer token (the app and integrations use `image_url` with the API's header), else
    nobody. Returns (member, staff user), either may be None."""
    member = current_member()
    staff_user = current_user if current_user.is_authenticated else None
    if member is not None or staff_user is not None:
        return member, staff_user
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, None
    try:
        row = api_tokens.resolve(db.session, token.strip(), clock())
    except DomainError:
        return None, None
    if row.member_id is not None:
        return db.session.get(Member, row.member_id), None
    return None, db.session.get(StaffUser, row.staff_user_id)


@bp.get("/news/<int:post_id>/image")
def news_image(post_id: int):
    """A post's image, to whoever may read the post: anyone for a published post for every
    tier; a member of the audience's tiers (portal session or member token) for a post
    for some tiers; staff with "offers" (panel session or staff token) for any post,
    drafts included. Others get 404, as for a post that does not exist.

    Only images of posts for every tier may sit in shared caches; the others are marked
    private, so a proxy never hands one member's image to another."""
    post = db.session.get(NewsPost, post_id)
    if post is None or not post.image_filename:
        abort(404)
    member, staff_user = _image_reader()
    public = content.visible_post(db.session, None, post_id, clock()) is not None
    readable = public or (member is not None and content.visible_post(
        db.session, member, post_id, clock()) is not None)
    staff = staff_user is not None and allowed(staff_user, "offers")
    if not (readable or staff):
        abort(404)
    from flask import send_from_directory
    response = send_from_directory(current_app.config["INSTANCE_DIR"] / "uploads",
                                   post.image_filename, mimetype="image/png", max_age=3600)
    if not public:
        response.cache_control.public = False
        response.cache_control.private = True
        if not readable:  # a draft or a post out of its window: staff only, never kept
            response.cache_control.no_store = True
            response.cache_control.max_age = None
        response.vary.update(("Cookie", "Authorization"))
    return response


@bp.get("/faq")
def faq():
    """Public: the questions people ask before they join, too."""
    rows = db.session.scalars(content.faq_statement()).all()
    return render_template("portal/faq.html", member=current_member(), rows=rows)


@bp.get("/surveys")
@member_required
def surveys_page(member):
    rows = db.session.scalars(surveys.open_surveys_statement(member)).all()
    return render_template("portal/surveys.html", member=member, rows=rows)


@bp.route("/surveys/<int:survey_id>", methods=["GET", "POST"])
@member_required
def survey(member, survey_id: int):
    row = surveys.member_survey(db.session, member, survey_id)
    if row is None:
        abort(404)  # closed, answered, the happy-call survey, or none at all
    answers, errors, status = {}, {}, 200
    if request.method == "POST":
        from flask_wtf.csrf import CSRFError, validate_csrf
        from wtforms import ValidationError
        try:
            if current_app.config.get("WTF_CSRF_ENABLED", True):
                validate_csrf(request.form.get("csrf_token", ""))
        except (ValidationError, CSRFError):
            abort(400)
        answers = {str(question.id): request.form.get(f"q{question.id}", "")[:2000]
                   for question in row.questions}
        try:
            surveys.submit_member_response(db.session, survey_id=row.id, member=member,
                                           answers=answers, now=clock())
        except DomainError as error:
            text = error.message.split(": ", 1)[-1]
            errors[getattr(error, "field", "")] = gettext(text)
            status = 400
        else:
            flash(gettext("Thank you for your answers."), "success")
            return redirect(url_for("portal.surveys_page"))
    return render_template("portal/survey.html", member=member, survey=row, answers=answers,
                           errors=errors), status
