"""Panel pages for messages (N1–N3): the overview and settings, the automatic messages'
texts ("SMS texts"), campaigns, and the outbox. Settings, texts and the outbox need the
"settings" permission; campaigns the "offers" one (offers and campaigns are one idea in
the glossary)."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms import SelectChoice

from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import format_number
from backend.models import Branch, Campaign, MemberScore, Message, Offer, SegmentRule, Tier
from backend.models.reports import SEGMENTS
from backend.notifications import admin as messages_admin
from backend.notifications import campaigns, sms, templates
from backend.notifications.dispatcher import settings as message_settings
from backend.services.reports import campaign_effects
from backend.services.reports.segments import SEGMENT_TITLES
from backend.web.admin.forms import CampaignForm, MessageSettingsForm
from backend.web.admin.reports import format_cell, read_only
from backend.web.auth import permission_required
from backend.web.common import (
    apply_error,
    clock,
    new_request_key,
    page_number,
    paginate,
    staff_actor,
    translate_error,
)
from backend.web.fields import (
    shown_number,
)

bp = Blueprint("messages", __name__, url_prefix="/messages")

JALALI_MONTHS = [_l("Farvardin"), _l("Ordibehesht"), _l("Khordad"), _l("Tir"), _l("Mordad"),
                 _l("Shahrivar"), _l("Mehr"), _l("Aban"), _l("Azar"), _l("Dey"),
                 _l("Bahman"), _l("Esfand")]
KIND_NAMES = {
    "purchase": _l("Thank you for a purchase"),
    "credit_increase": _l("Credit added"),
    "tier_upgrade": _l("Tier upgrade"),
    "credit_expiring": _l("Credit about to expire"),
    "points_expiring": _l("Points about to expire"),
    "cheque_due": _l("Cheque due soon"),
    "instalment_due": _l("Instalment due soon"),
    "welcome": _l("Welcome and login details"),
    "birthday": _l("Birthday"),
    "anniversary": _l("Wedding anniversary"),
    "otp": _l("Verification code"),
}
STATUS_NAMES = {"queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"),
                "delivered": _l("Delivered"), "failed": _l("Failed"),
                "cancelled": _l("Cancelled")}


def _campaign_form() -> CampaignForm:
    form = CampaignForm()
    tiers = db.session.scalars(select(Tier).order_by(Tier.rank)).all()
    form.tier_ids.choices = [SelectChoice(tier.id, tier.name_fa or tier.name) for tier in tiers]
    form.branch_id.choices = [SelectChoice(0, _l("Any"))] + [
        SelectChoice(branch.id, branch.name) for branch in db.session.scalars(
            select(Branch).where(Branch.is_active).order_by(Branch.name))]
    form.birthday_month.choices = [SelectChoice(0, _l("Any"))] + [
        SelectChoice(index + 1, name) for index, name in enumerate(JALALI_MONTHS)]
    # Members per segment as of the last nightly scoring, so the admin sees the sizes.
    sizes = dict(db.session.execute(select(MemberScore.segment, func.count())
                                    .group_by(MemberScore.segment)).all())
    form.lrfm_segments.choices = [
        SelectChoice(code, gettext("%(segment)s (%(count)s)",
                                   segment=gettext(SEGMENT_TITLES[code]),
                                   count=format_number(sizes.get(code, 0),
                                                       g.get("language", "fa"))))
        for code in SEGMENTS]
    form.audience_rule_id.choices = [SelectChoice(0, _l("None"))] + [
        SelectChoice(rule.id, rule.name) for rule in db.session.scalars(
            select(SegmentRule).where(SegmentRule.action == "audience", SegmentRule.is_active)
            .order_by(SegmentRule.name))]
    form.offer_id.choices = [SelectChoice(0, _l("None"))] + [
        SelectChoice(offer.id, offer.name) for offer in db.session.scalars(
            select(Offer).where(Offer.is_active).order_by(Offer.name))]
    if request.method == "GET":
        form.request_key.data = new_request_key()
        form.holdout_percent.data = message_settings(db.session).holdout_percent
    return form


def _segment(form: CampaignForm) -> campaigns.Segment:
    return campaigns.Segment(
        tier_ids=tuple(form.tier_ids.data or ()), branch_id=form.branch_id.data or None,
        visited_within_days=form.visited_within_days.data,
        absent_for_days=form.absent_for_days.data, min_spend_rials=form.min_spend.data,
        max_spend_rials=form.max_spend.data, min_purchases=form.min_purchases.data,
        birthday_month=form.birthday_month.data or None,
        lrfm_segments=tuple(form.lrfm_segments.data or ()),
        audience_rule_id=form.audience_rule_id.data or None)


def _show_error(form, error: DomainError) -> None:
    if isinstance(error, campaigns.NotEnoughSms):
        flash(gettext("Not enough SMS left: this campaign needs %(needed)s parts and "
                      "%(left)s are left for promotional messages.",
                      needed=shown_number(error.needed), left=shown_number(error.left)),
              "error")
    elif hasattr(error, "msgid"):
        form.body.errors = [gettext(error.msgid, **error.params)]
    else:
        apply_error(form, error, {"segment": None})


@bp.get("/")
@permission_required("settings")
def overview(user):
    return render_template("messages/overview.html", user=user,
                           info=messages_admin.overview(db.session, clock()),
                           status_names=STATUS_NAMES)


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("settings")
def settings_page(user):
    current = message_settings(db.session)
    if request.method == "GET":
        form = MessageSettingsForm(obj=current)
        form.sms_part_price.data = current.sms_part_price_rials
    else:
        form = MessageSettingsForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            values = {name: getattr(form, name).data for name in messages_admin.SETTINGS_FIELDS
                      if name != "sms_part_price_rials"}
            values["sms_part_price_rials"] = form.sms_part_price.data or 0
            for name in ("sms_sender", "smtp_host", "smtp_username", "email_from",
                         "kavenegar_api_key", "smtp_password"):
                values[name] = values[name] or ""
            try:
                messages_admin.save_settings(db.session, values, actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.messages.settings_page"))
    return render_template("messages/settings.html", user=user, form=form,
                           current=current), status


@bp.route("/texts", methods=["GET", "POST"])
@permission_required("settings")
def texts_page(user):
    """"SMS texts": every automatic message in both languages, switched on or off."""
    current = message_settings(db.session)
    texts = messages_admin.template_texts(db.session)
    enabled = {kind for kind in templates.KINDS if kind not in (current.disabled_kinds or [])}
    errors, status = {}, 200
    if request.method == "POST":
        texts = {key: request.form.get(f"text_{key[0]}_{key[1]}", "")[:2000] for key in texts}
        enabled = {kind for kind in templates.KINDS
                   if request.form.get(f"enabled_{kind}") or not templates.KINDS[kind].can_disable}
        errors = messages_admin.save_templates(db.session, texts, enabled, clock(),
                                               actor=staff_actor(user))
        if not errors:
            flash(gettext("Saved."), "success")
            return redirect(url_for("admin.messages.texts_page"))
        status = 400
    club_unit = g.get("currency_unit", "rial")
    rows = []
    for kind, spec in templates.KINDS.items():
        samples = {}
        for language in templates.LANGUAGES:
            try:
                samples[language] = templates.render(
                    texts[(kind, language)], templates.sample_values(kind, language, club_unit))
            except (KeyError, ValueError, IndexError):
                samples[language] = ""
        rows.append({
            "kind": kind, "name": KIND_NAMES[kind], "spec": spec,
            "placeholders": templates.allowed_placeholders(kind),
            "texts": {language: texts[(kind, language)] for language in templates.LANGUAGES},
            "errors": {language: gettext(errors[(kind, language)].msgid,
                                         **errors[(kind, language)].params)
                       for language in templates.LANGUAGES if (kind, language) in errors},
            "samples": samples,
            "parts": {language: sms.parts(text) for language, text in samples.items()},
            "enabled": kind in enabled,
        })
    return render_template("messages/texts.html", user=user, rows=rows), status


@bp.get("/campaigns")
@permission_required("offers")
def campaigns_list(user):
    page = paginate(select(Campaign).order_by(Campaign.id.desc()),
                    page_number(request.args.get("page")))
    counts = {row.id: campaigns.status_counts(db.session, row.id) for row in page.rows}
    return render_template("messages/campaigns.html", user=user, page=page, counts=counts)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@permission_required("offers")
def campaign_new(user):
    form = _campaign_form()
    result, sample, status = None, "", 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            holdout = form.holdout_percent.data if form.holdout_percent.data is not None else 0
            arguments = {"segment": _segment(form), "channel": form.channel.data,
                         "body": form.body.data, "language": form.language.data,
                         "holdout_percent": holdout, "offer_id": form.offer_id.data or None}
            try:
                if request.form.get("action") == "send":
                    campaign = campaigns.send(
                        db.session, name=form.name.data,
                        request_key=(form.request_key.data or new_request_key())[:64],
                        actor=staff_actor(user), now=clock(), config=_config(), **arguments)
                    flash(gettext("The campaign is on its way."), "success")
                    return redirect(url_for("admin.messages.campaign_detail",
                                            campaign_id=campaign.id))
                result = campaigns.preview(db.session, now=clock(), config=_config(),
                                           **arguments)
                sample = next(iter(result.bodies.values()), "")
                status = 200
            except DomainError as error:
                _show_error(form, error)
    return render_template("messages/campaign_form.html", user=user, form=form,
                           preview=result, sample=sample,
                           placeholders=templates.CAMPAIGN_PLACEHOLDERS), status


def _config() -> dict:
    return current_app.config


@bp.get("/campaigns/<int:campaign_id>")
@permission_required("offers")
def campaign_detail(user, campaign_id: int):
    read_only()  # measuring reads purchases: never hold up the counter for it
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    rule_id = (campaign.segment or {}).get("audience_rule_id")
    return render_template("messages/campaign.html", user=user, campaign=campaign,
                           counts=campaigns.status_counts(db.session, campaign.id),
                           effect=campaign_effects.measure(db.session, campaign, clock())
                           if campaign.sent_at is not None else None,
                           verdicts=campaign_effects.VERDICTS, format_cell=format_cell,
                           segment_titles=SEGMENT_TITLES,
                           audience_rule=db.session.get(SegmentRule, rule_id) if rule_id
                           else None,
                           status_names=STATUS_NAMES, months=JALALI_MONTHS,
                           tiers={tier.id: tier for tier in db.session.scalars(select(Tier))},
                           branches={branch.id: branch for branch in db.session.scalars(
                               select(Branch))})


@bp.get("/outbox")
@permission_required("settings")
def outbox(user):
    status = request.args.get("status", "")
    statement = select(Message).order_by(Message.id.desc())
    if status in STATUS_NAMES:
        statement = statement.where(Message.status == status)
    page = paginate(statement, page_number(request.args.get("page")))
    return render_template("messages/outbox.html", user=user, page=page, status=status,
                           status_names=STATUS_NAMES, kind_names=KIND_NAMES,
                           can_retry=messages_admin.can_retry)


@bp.post("/outbox/<int:message_id>/retry")
@permission_required("settings")
def retry(user, message_id: int):
    try:
        messages_admin.retry(db.session, message_id, clock(), actor=staff_actor(user))
    except DomainError as error:
        flash(translate_error(error), "error")
    else:
        flash(gettext("The message is queued again."), "success")
    return redirect(url_for("admin.messages.outbox", status="failed"))
