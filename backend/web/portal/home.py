"""The portal's own pages (P1, P4): signing in and out, the home page, history,
purchases, offers, transfers, referrals, requests to the club, the profile, and the
installable app's manifest and service worker."""

import io

import qrcode
import qrcode.image.svg
from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from backend.models import Member, MemberRequest, Purchase, Tier, the_club
from backend.services import catalogue, member_auth, member_requests, members, statements, wallet
from backend.services import profile as profile_service
from backend.web.auth import attempt_sign_in, client_ip
from backend.web.common import (
    apply_error,
    clock,
    member_actor,
    new_request_key,
    page_number,
    paginate,
)
from backend.web.fields import WEEKDAY_NAMES
from backend.web.portal.blueprint import (
    bp,
    current_member,
    member_required,
    start_member_session,
)
from backend.web.portal.forms import ProfileForm, RequestForm, SignInForm, TransferForm

HISTORY_PAGE_SIZE = 20


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    member, error, status = attempt_sign_in(
        form, lambda: member_auth.authenticate(db.session, form.mobile.data, form.password.data,
                                               ip=client_ip(), now=clock()),
        gettext("Wrong mobile number or password."))
    if member is not None:
        start_member_session(member)
        return redirect(url_for("portal.home"))
    return render_template("portal/sign_in.html", form=form, error=error), status


@bp.post("/sign-out")
def sign_out():
    member = current_member()
    if member is not None:
        member_auth.end_sessions(db.session, member.id, actor=member_actor())  # every session
    session.pop("member_id", None)
    session.pop("member_fp", None)
    return redirect(url_for("portal.sign_in"))


@bp.get("/")
@member_required
def home(member):
    progress = statements.tier_progress(db.session, member, clock())
    recent = db.session.execute(statements.history_lines_statement(member.id).limit(5)).all()
    return render_template("portal/home.html", member=member, progress=progress,
                           recent=recent, card_svg=_card_qr(member),
                           parties=statements.transfer_parties(db.session, recent))


@bp.get("/history")
@member_required
def history(member):
    page = paginate(statements.history_lines_statement(member.id),
                    page_number(request.args.get("page")), size=HISTORY_PAGE_SIZE,
                    scalars=False)
    purchases = {row.ledger_transaction_id: row for row in db.session.scalars(
        select(Purchase).where(Purchase.member_id == member.id, Purchase.ledger_transaction_id
                               .in_([entry.id for entry in page.rows])))}
    return render_template("portal/history.html", member=member, page=page,
                           purchases=purchases,
                           parties=statements.transfer_parties(db.session, page.rows))


@bp.get("/purchases/<int:purchase_id>")
@member_required
def purchase(member, purchase_id: int):
    row = db.session.get(Purchase, purchase_id)
    if row is None or row.member_id != member.id:
        abort(404)  # the same answer whether it exists or belongs to someone else
    return render_template("portal/purchase.html", member=member, purchase=row)


@bp.get("/offers")
@member_required
def offers(member):
    rows = catalogue.offers_for(db.session, member, clock())
    language = g.get("language", "fa")
    tier_names = {tier.code: tier.name_fa if language == "fa" and tier.name_fa else tier.name
                  for tier in db.session.scalars(select(Tier))}
    return render_template("portal/offers.html", member=member, offers=rows,
                           weekday_names=WEEKDAY_NAMES, tier_names=tier_names)


@bp.route("/transfer", methods=["GET", "POST"])
@member_required
def transfer(member):
    form = TransferForm() if request.method == "POST" else TransferForm(
        request_key=new_request_key())
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                receiver = members.find_referrer(db.session, form.to_member.data)
                wallet.transfer_credit(
                    db.session, actor=member_actor(),
                    from_member_id=member.id, to_member_id=receiver.id,
                    amount_rials=form.amount.data,
                    idempotency_key=f"portal:transfer:{member.id}:{form.request_key.data[:64]}",
                    now=clock())
            except DomainError as error:
                apply_error(form, error, {"referrer": "to_member", "to": "to_member"})
            else:
                flash(gettext("Credit transferred."), "success")
                return redirect(url_for("portal.home"))
    return render_template("portal/transfer.html", member=member, form=form), status


def referral_code(member_id: int) -> str:
    """A signed, shareable stand-in for the member: the link must not reveal a mobile
    number or a card number to whoever it is forwarded to."""
    return URLSafeSerializer(current_app.secret_key, salt="vafa-referral").dumps(member_id)


def referrer_from_code(code: str) -> int | None:
    try:
        value = URLSafeSerializer(current_app.secret_key, salt="vafa-referral").loads(code)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def _svg(data: str) -> Markup:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8,
                        border=2)
    output = io.BytesIO()
    image.save(output)
    svg = output.getvalue().decode()
    return Markup(svg[svg.index("<svg"):])  # drop the XML declaration; ours, not user input


def _card_qr(member: Member) -> Markup | None:
    active = [card.number for card in member.cards if card.status == "active"]
    return _svg(active[0]) if active else None


@bp.get("/refer")
@member_required
def refer(member):
    """P4: a link and QR code that open the join page with this member as referrer."""
    link = url_for("portal.join", ref=referral_code(member.id), _external=True)
    friends = db.session.scalars(select(Member).where(Member.referrer_id == member.id)
                                 .order_by(Member.id.desc())).all()
    earned = db.session.execute(
        statements.history_statement(member.id)).all()
    referral_rials = sum(row.credit for row in earned
                         if row.kind in ("referral", "commission", "commission-refund"))
    return render_template("portal/refer.html", member=member, link=link, qr=_svg(link),
                           friends=friends, referral_rials=referral_rials)


@bp.route("/requests", methods=["GET", "POST"])
@member_required
def requests_page(member):
    form = RequestForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                member_requests.submit_request(db.session, actor=member_actor(),
                                               member_id=member.id,
                                               subject=form.subject.data, body=form.body.data,
                                               now=clock())
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Your message was sent. The answer will appear here."), "success")
                return redirect(url_for("portal.requests_page"))
    rows = db.session.scalars(select(MemberRequest).where(MemberRequest.member_id == member.id)
                              .order_by(MemberRequest.id.desc())).all()
    return render_template("portal/requests.html", member=member, form=form, rows=rows), status


@bp.get("/requests/<int:request_id>")
@member_required
def request_detail(member, request_id: int):
    row = db.session.get(MemberRequest, request_id)
    if row is None or row.member_id != member.id:
        abort(404)
    return render_template("portal/request.html", member=member, row=row)


@bp.route("/profile", methods=["GET", "POST"])
@member_required
def profile(member):
    form = ProfileForm(obj=member) if request.method == "GET" else ProfileForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                _, given = profile_service.update_own_profile(
                    db.session, member_id=member.id, email=form.email.data or "",
                    promotional_opt_out=form.promotional_opt_out.data,
                    message_language=form.message_language.data or "",
                    birth_date=form.birth_date.data, city=form.city.data or "",
                    gender=form.gender.data or "", now=clock(),
                    new_password=form.new_password.data or "",
                    current_password=form.current_password.data or "", actor=member_actor())
            except DomainError as error:
                apply_error(form, error, {"password": "new_password"})
            else:
                if form.new_password.data:  # this session stays signed in, the others end
                    session["member_fp"] = member_auth.fingerprint(member)
                flash(gettext("Saved."), "success")
                if given:
                    flash(gettext("Thank you for completing your profile: your reward is in "
                                  "your account."), "success")
                return redirect(url_for("portal.profile"))
    return render_template("portal/profile.html", member=member, form=form,
                           club=the_club(db.session),
                           reward_given=profile_service.reward_given(db.session, member.id)
                           ), status


@bp.get("/club")
def club_page():
    club = the_club(db.session)
    return render_template("portal/club.html", member=current_member(), club_info=club)


@bp.get("/manifest.webmanifest")
def manifest():
    club = the_club(db.session)
    name = (club.name_fa or club.name) if club else "Vafa"
    body = {
        "name": name, "short_name": name[:12], "lang": "fa", "dir": "rtl",
        "start_url": url_for("portal.home"), "scope": url_for("portal.home"),
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#1d4ed8",
        "icons": [{"src": url_for("static", filename="portal/icon.svg"), "sizes": "any",
                   "type": "image/svg+xml"}],
    }
    response = current_app.response_class(
        current_app.json.dumps(body), mimetype="application/manifest+json")
    return response


@bp.get("/sw.js")
def service_worker():
    # Served from /portal/ so its scope is the portal; the script itself is static.
    response = current_app.send_static_file("portal/sw.js")
    response.headers["Service-Worker-Allowed"] = url_for("portal.home")
    response.headers["Cache-Control"] = "no-cache"
    return response

