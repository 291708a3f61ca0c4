"""Where messages go: one interface, three implementations.

- `ConsoleProvider` (the default): appends each message to `instance/outbox/<channel>.log`
  as a JSON line and logs it — development, tests and the demo send nothing anywhere.
  Mobile numbers are masked in both (`0912***4567`); the text, a code included, is kept.
- `KavenegarProvider`: SMS through Kavenegar's HTTP API with the `kavenegar` package.
- `SmtpProvider`: email through any SMTP server (smtplib, email.message).

A provider raises `ProviderError` when a send did not happen; `permanent` says whether
trying again can help (a malformed number cannot; a timeout can). Every network call
has a timeout, so a dead provider costs the dispatcher seconds, not forever.
"""

import json
import logging
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

import kavenegar
import requests

from backend.log_redaction import mask_mobiles

log = logging.getLogger(__name__)

KAVENEGAR_HOST = "api.kavenegar.com"
KAVENEGAR_TIMEOUT_S = 15
SMTP_TIMEOUT_S = 20


@dataclass(frozen=True)
class Outgoing:
    """What a provider needs of a message: plain data, no database row."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class SendResult:
    reference: str
    delivered: bool = False


class ProviderError(Exception):
    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Provider(Protocol):
    name: str

    def send(self, message: Outgoing) -> SendResult: ...

    def delivery_status(self, references: list[str]) -> dict[str, str]:
        """Reference → "sent" (not known yet), "delivered" or "failed"."""
        ...


class ConsoleProvider:
    """Writes messages to a file and the log; everything it "sends" is delivered."""

    name = "console"
    _lock = threading.Lock()  # one line per message even with threads

    def __init__(self, directory: Path, channel: str):
        self.path = Path(directory) / f"{channel}.log"

    def send(self, message: Outgoing) -> SendResult:
        recipient = mask_mobiles(message.recipient)
        line = json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"),
                           "id": message.id, "to": recipient,
                           "subject": message.subject, "body": mask_mobiles(message.body)},
                          ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        log.info("%s to %s: %s", message.channel, recipient, mask_mobiles(message.body))
        return SendResult(reference=f"console-{message.id}", delivered=True)

    def delivery_status(self, references: list[str]) -> dict[str, str]:
        return {reference: "delivered" for reference in references}


class _RequestsWithTimeout:
    """kavenegar 1.1.2 calls `requests.post` with no timeout, so one provider that
    accepts the connection and never answers would stall the dispatcher for good. The
    package reaches `requests` through its module global; this stand-in adds a timeout
    and passes everything else on unchanged."""

    exceptions = requests.exceptions

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s

    def post(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout_s)
        return requests.post(*args, **kwargs)


kavenegar.requests = _RequestsWithTimeout(KAVENEGAR_TIMEOUT_S)

# Kavenegar's API errors (the `return.status` of a refused call) that no retry can fix:
# bad parameters, an invalid receptor or sender line, an empty/too long or badly
# encoded text. Others (401 account disabled, 403 bad key, 418 no credit, 5xx) may be
# fixed by the admin or by time, so they are retried until the attempts run out.
KAVENEGAR_PERMANENT = frozenset({400, 411, 412, 413, 414, 422})
# Per-message statuses (`entries[].status`): 10 delivered; 6 failed, 11 undelivered,
# 13 cancelled, 14 blocked by the recipient, 100 unknown id. 1, 2, 4, 5: on the way.
KAVENEGAR_DELIVERED = frozenset({10})
KAVENEGAR_FAILED = frozenset({6, 11, 13, 14, 100})
_API_STATUS = re.compile(r"APIException\[(\d+)\]\s*(.*)", re.S)


class KavenegarProvider:
    name = "kavenegar"

    def __init__(self, api_key: str, sender: str = "", host: str = KAVENEGAR_HOST):
        self.api_key, self.sender, self.host = api_key, sender, host

    def _api(self) -> kavenegar.KavenegarAPI:
        if not self.api_key:
            raise ProviderError("no Kavenegar API key in the message settings")
        api = kavenegar.KavenegarAPI(self.api_key)
        api.host = self.host
        return api

    def _call(self, method, params: dict):
        try:
            return method(params)
        except kavenegar.APIException as error:
            text = error.args[0].decode("utf-8", "replace") if error.args and isinstance(
                error.args[0], bytes) else str(error)
            match = _API_STATUS.search(text)
            status = int(match.group(1)) if match else 0
            raise ProviderError(f"Kavenegar refused: {text}",
                                permanent=status in KAVENEGAR_PERMANENT) from None
        except kavenegar.HTTPException as error:
            raise ProviderError(f"Kavenegar unreachable: {error}") from None

    def send(self, message: Outgoing) -> SendResult:
        params = {"receptor": message.recipient, "message": message.body,
                  # Kavenegar sends a localid once: a send repeated after a crash
                  # (the dispatcher's lease ran out) does not reach the phone twice.
                  "localid": str(message.id)}
        if self.sender:
            params["sender"] = self.sender
        entries = self._call(self._api().sms_send, params)
        if not isinstance(entries, list) or not entries or "messageid" not in entries[0]:
            raise ProviderError(f"Kavenegar answered without a message id: {entries!r}"[:300])
        entry = entries[0]
        status = int(entry.get("status", 0))
        if status in KAVENEGAR_FAILED:
            raise ProviderError(
                f"Kavenegar status {status}: {entry.get('statustext', '')}", permanent=True)
        return SendResult(reference=str(entry["messageid"]),
                          delivered=status in KAVENEGAR_DELIVERED)

    def delivery_status(self, references: list[str]) -> dict[str, str]:
        if not references:
            return {}
        entries = self._call(self._api().sms_status, {"messageid": ",".join(references)})
        result = {}
        for entry in entries or []:
            status = int(entry.get("status", 0))
            result[str(entry.get("messageid"))] = (
                "delivered" if status in KAVENEGAR_DELIVERED
                else "failed" if status in KAVENEGAR_FAILED else "sent")
        return result


class SmtpProvider:
    name = "smtp"

    def __init__(self, *, host: str, port: int, security: str, username: str, password: str,
                 from_address: str, ssl_context: ssl.SSLContext | None = None):
        assert security in ("none", "starttls", "ssl"), security
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.from_address = username, password, from_address
        self.ssl_context = ssl_context

    def send(self, message: Outgoing) -> SendResult:
        if not self.host or not self.from_address:
            raise ProviderError("no SMTP server or sender address in the message settings")
        email = EmailMessage()
        email["From"] = self.from_address
        email["To"] = message.recipient
        email["Subject"] = message.subject
        reference = make_msgid(idstring=f"vafa.{message.id}",
                               domain=self.from_address.rpartition("@")[2] or None)
        email["Message-ID"] = reference
        email.set_content(message.body)
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.security == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT_S,
                                          context=context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_S)
            with client:
                if self.security == "starttls":
                    client.starttls(context=context)
                if self.username:
                    client.login(self.username, self.password)
                client.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            raise ProviderError(f"SMTP refused the recipient: {error.recipients}",
                                permanent=all(500 <= code < 600 for code in codes)) from None
        except smtplib.SMTPResponseException as error:
            text = error.smtp_error.decode("utf-8", "replace") if isinstance(
                error.smtp_error, bytes) else str(error.smtp_error)
            raise ProviderError(f"SMTP {error.smtp_code}: {text}",
                                permanent=500 <= error.smtp_code < 600) from None
        except (OSError, smtplib.SMTPException) as error:
            raise ProviderError(f"SMTP server unreachable: {error}") from None
        return SendResult(reference=reference.strip("<>")[:64])

    def delivery_status(self, references: list[str]) -> dict[str, str]:
        return {}  # SMTP has no delivery reports: accepted is as far as we can see


def build(settings, *, outbox_dir: Path, kavenegar_host: str = KAVENEGAR_HOST) -> dict:
    """The provider per channel for the current message settings."""
    if settings.sms_provider == "kavenegar":
        sms = KavenegarProvider(settings.kavenegar_api_key, settings.sms_sender,
                                kavenegar_host)
    else:
        sms = ConsoleProvider(outbox_dir, "sms")
    if settings.email_provider == "smtp":
        email = SmtpProvider(host=settings.smtp_host, port=settings.smtp_port,
                             security=settings.smtp_security,
                             username=settings.smtp_username,
                             password=settings.smtp_password,
                             from_address=settings.email_from)
    else:
        email = ConsoleProvider(outbox_dir, "email")
    return {"sms": sms, "email": email}
