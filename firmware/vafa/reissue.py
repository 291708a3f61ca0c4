# The rare paths of a sale's way to the backend: re-issue of a sale the backend answered
# REPLAY / ID_REUSED (its seq or id was used before, e.g. after a reflash), online or from
# the journal; an entry set aside to journal.dead, and the retry of a set-aside one.
# Imported by vafa.app only for such an event and dropped after it.
from micropython import const

from vafa import protocol
from vafa.clock import ticks_add
from vafa.labels import TEXT
from vafa.states import (
    MAX_RESENDS,
    OUT_FLASH_FULL,
    REPLAY_PAUSE_MS,
    RESPONSE_TIMEOUT_MS,
    RESULT_MS,
)

# A sale answered REPLAY / ID_REUSED is re-issued under a new seq at most this often.
_MAX_REISSUES = const(2)


def has_origin(app, seq, origin):
    from vafa.journal import decode_sale

    found = False
    for s, p in app.journal.entries():  # to the end: the generator closes the log
        d = decode_sale(p)
        if s != seq and d is not None and d[0][3] == origin:
            found = True
    return found


def entry(app, rp, r):
    """REPLAY / ID_REUSED for a journaled sale: nothing was recorded; save it again
    under a seq above the backend's last_seq and drop the old entry. False when it
    cannot (then it is refused like any other code)."""
    from vafa.journal import JournalFull, decode_sale, encode_sale

    app.store.raise_floor(r.get("last_seq"))
    seq = rp["seq"]
    payload = (app.journal.dead_peek() if rp.get("dead") else app.journal.peek())[1]
    sale = decode_sale(payload)
    if sale is None or sale[0][4] >= _MAX_REISSUES:
        app._say("offline sale %s: %s again, not re-issued" % (rp["id"], r.get("code")))
        return False
    clk, boot, up, origin, reissues = sale[0]
    body = protocol.parse_body(sale[1])
    # A power cut between the append below and the ack leaves both: keep the copy.
    if has_origin(app, seq, origin):
        app._drop_entry(rp)
        app._say("offline sale %s was re-issued already" % rp["id"])
        app._queued_changed()
        return True
    try:
        new_seq = app.store.next_seq()
        new_body = protocol.make_request(
            app.device_id, new_seq, body.get("ts", 0), "purchase", body.get("card"),
            body.get("amount"), 0, None, True, clk=bool(clk), items=body.get("items"))
        app.journal.append(new_seq, encode_sale(clk, boot, up, origin, reissues + 1,
                                                 new_body))
    except (OSError, JournalFull) as e:
        app._say("offline sale %s could not be re-issued (%r); retrying later"
                  % (rp["id"], e))
        app.replay_pause_until = ticks_add(app._ticks(), REPLAY_PAUSE_MS)
        return True  # kept; replayed (and re-issued) again after the pause
    new_id = protocol.request_id(app.device_id, new_seq)
    app._drop_entry(rp)
    try:
        app.store.rename_sale(rp["id"], new_id)
    except OSError:
        pass
    app._say("offline sale %s re-issued as %s (%s, backend at seq %r)"
              % (rp["id"], new_id, r.get("code"), r.get("last_seq")))
    app._queued_changed()
    return True


def online(app, inf, r):
    """REPLAY / ID_REUSED: this seq (or id) was used before, e.g. by this board before
    a reflash; nothing was recorded. Raise the floor to the backend's last_seq and
    send the request again under a new seq, once. False: show the refusal."""
    app.store.raise_floor(r.get("last_seq"))
    if inf["reissued"]:
        app._say("%s answered %s again; not re-issued" % (inf["id"], r.get("code")))
        return False
    try:
        seq = app.store.next_seq()
    except OSError as e:
        app._say("re-issue of %s failed (%r)" % (inf["id"], e))
        app.outcome = OUT_FLASH_FULL
        app.hw.indicator.error()
        app._to_result([TEXT["reissue_failed"], TEXT["flash_full"], TEXT["try_again"]],
                        RESULT_MS)
        return True
    card, app.card = app.card, inf["card"]
    new = app._request(seq, inf["op"], inf["amount"], inf["use_credit"], inf["ref"],
                        inf["pin"], inf.get("items"), inf.get("use_points", 0))
    app.card = card
    app._say("%s answered %s (backend at seq %r): re-issued as %s"
              % (inf["id"], r.get("code"), r.get("last_seq"), new["id"]))
    now = app._ticks()
    new["reissued"] = 1
    new["created"] = now
    new["deadline"] = now
    app.inflight = new
    app._try_first_send(now)
    return True


def set_aside(app, seq, why):
    """Move the oldest entry to journal.dead so that the ones behind it replay."""
    app.replay = None
    app._replay_rounds = (None, 0)
    rid = protocol.request_id(app.device_id, seq)
    kept = app.journal.move_dead(seq)
    app.net.dead = app.journal.dead
    app._say("offline sale %s set aside (%s)%s; %d set aside in all" % (
        rid, why, "" if kept else ", NOT kept: flash full", app.journal.dead))
    app._queued_changed()


def dead_try(app, now_ms):
    """Send the set-aside entry tried longest ago once (vafa.app._dead_tick: due)."""
    entry = app.journal.dead_peek()
    if entry is None:
        return
    rid, frame = app._replay_frame(entry[0], entry[1])
    if frame is None:
        app._drop_entry({"seq": entry[0], "dead": True}, to_end=True)
        return
    # One send: its deadline ends the try (sends already at the resend bound).
    app.replay = {"seq": entry[0], "id": rid, "frame": frame, "dead": True,
                   "sends": MAX_RESENDS + 1,
                   "deadline": ticks_add(now_ms, RESPONSE_TIMEOUT_MS)}
    app._say("trying set-aside %s again" % rid)
    app.net.publish_request(frame)
