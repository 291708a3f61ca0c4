"""Portal pages for points (L1): convert points to credit, take a reward from the
catalogue. Each form carries a random request key, so a resubmitted form (a double tap,
the back button) converts or redeems nothing more."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext

from backend import engine, ledger
from backend.errors import DomainError
from backend.extensions import db
from backend.models import the_club
from backend.services import rewards, wallet
from backend.web.common import apply_error, clock, member_actor, new_request_key
from backend.web.fields import ConvertPointsForm, RedeemRewardForm
from backend.web.portal.blueprint import bp, member_required


def _page(member, convert_form=None, redeem_form=None, status=200):
    club = the_club(db.session)
    now = clock()
    spendable = ledger.spendable_points(db.session, member, now)
    return render_template(
        "portal/points.html", member=member, club=club, spendable=spendable,
        worth_rials=engine.points_to_credit(spendable, club.point_value_rials),
        convert_form=convert_form or ConvertPointsForm(request_key=new_request_key(),
                                                       formdata=None),
        redeem_key=new_request_key(), redeem_form=redeem_form,
        rewards=rewards.available(db.session),
        redemptions=rewards.of_member(db.session, member.id, limit=10)), status


@bp.get("/points")
@member_required
def points(member):
    return _page(member)


@bp.post("/points/convert")
@member_required
def convert(member):
    form = ConvertPointsForm()
    if form.validate_on_submit():
        try:
            wallet.convert_points(
                db.session, actor=member_actor(), member_id=member.id, points=form.points.data,
                now=clock(),
                idempotency_key=f"portal:convert:{member.id}:{(form.request_key.data or '')[:64]}")
        except DomainError as error:
            apply_error(form, error)
        else:
            flash(gettext("Points converted to credit."), "success")
            return redirect(url_for("portal.points"))
    return _page(member, convert_form=form, status=400)


@bp.post("/points/rewards")
@member_required
def redeem(member):
    form = RedeemRewardForm()
    if form.validate_on_submit():
        try:
            redemption = rewards.redeem(
                db.session, actor=member_actor(),
                member_id=member.id, reward_id=form.reward_id.data,
                channel="portal", now=clock(),
                idempotency_key=f"portal:reward:{member.id}:{(form.request_key.data or '')[:64]}")
        except DomainError as error:
            apply_error(form, error)
            for message in form.reward_id.errors or []:
                flash(message, "error")
        else:
            flash(gettext("Show this at the counter to collect your reward.")
                  if redemption.status == "to_collect" else gettext("Reward taken."), "success")
            return redirect(url_for("portal.points"))
    else:
        flash(gettext("This form has expired; open it again."), "error")
    return _page(member, status=400)
