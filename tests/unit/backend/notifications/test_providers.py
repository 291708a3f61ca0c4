"""Providers on their own: email through a real SMTP server (aiosmtpd) running in the
test, Kavenegar's answers through the real package against the fake API."""

import email
import json
import logging
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from backend import log_redaction
from backend.notifications import providers
from backend.notifications.providers import Outgoing, ProviderError
from tests.support.broker import free_port


class Mailbox:
    """An aiosmtpd handler: keeps what it accepts; `refuse` answers RCPT with a code."""

    def __init__(self):
        self.messages: list = []
        self.refuse = ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content,
                                                       policy=default_policy)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def smtp(port, **overrides):
    settings = {"host": "127.0.0.1", "port": port, "security": "none", "username": "",
                "password": "", "from_address": "club@vafa.example"}
    return providers.SmtpProvider(**{**settings, **overrides})


def test_email_reaches_the_smtp_server_in_persian(smtp_server):
    mailbox, port = smtp_server
    result = smtp(port).send(Outgoing(7, "email", "sara@example.com", "جشنواره پاییز",
                                      "سارا عزیز، ۲۰٪ تخفیف تا آخر هفته."))
    [(sender, recipients, message)] = mailbox.messages
    assert sender == "club@vafa.example" and recipients == ["sara@example.com"]
    assert message["Subject"] == "جشنواره پاییز"
    assert message.get_content().strip() == "سارا عزیز، ۲۰٪ تخفیف تا آخر هفته."
    assert message["Message-ID"].strip("<>") == result.reference
    assert "vafa.7" in result.reference and not result.delivered


@pytest.mark.parametrize(("reply", "permanent"), [
    ("550 5.1.1 No such mailbox", True),
    ("451 4.3.0 Try again later", False),
])
def test_smtp_refusals_say_whether_to_retry(smtp_server, reply, permanent):
    mailbox, port = smtp_server
    mailbox.refuse = reply
    with pytest.raises(ProviderError) as caught:
        smtp(port).send(Outgoing(8, "email", "nobody@example.com", "Hi", "Hello"))
    assert caught.value.permanent is permanent
    assert reply.split()[0] in str(caught.value)
    assert mailbox.messages == []


def test_an_unreachable_or_unset_smtp_server_is_a_retry(smtp_server):
    _mailbox, port = smtp_server
    with pytest.raises(ProviderError) as caught:
        smtp(free_port()).send(Outgoing(9, "email", "a@example.com", "Hi", "Hello"))
    assert not caught.value.permanent and "unreachable" in str(caught.value)
    with pytest.raises(ProviderError, match="no SMTP server"):
        smtp(port, host="").send(Outgoing(9, "email", "a@example.com", "Hi", "Hello"))


def test_kavenegar_blocked_recipient_is_permanent(kavenegar_api, kavenegar_provider):
    kavenegar_api.send_status = 14  # the recipient blocked advertising lines
    with pytest.raises(ProviderError) as caught:
        kavenegar_provider.send(Outgoing(1, "sms", "09120000000", "", "سلام"))
    assert caught.value.permanent and "14" in str(caught.value)


def test_kavenegar_delivery_statuses(kavenegar_api, kavenegar_provider):
    kavenegar_api.delivery.update({101: 10, 102: 11, 103: 4})
    assert kavenegar_provider.delivery_status(["101", "102", "103"]) == {
        "101": "delivered", "102": "failed", "103": "sent"}
    assert kavenegar_api.requests[-1].endswith("/sms/status.json")


def test_without_an_api_key_nothing_is_sent(kavenegar_api):
    with pytest.raises(ProviderError, match="no Kavenegar API key") as caught:
        providers.KavenegarProvider("", host=kavenegar_api.host).send(
            Outgoing(1, "sms", "09120000000", "", "x"))
    assert not caught.value.permanent and kavenegar_api.requests == []


def test_console_writes_one_json_line_per_message(tmp_path):
    console = providers.ConsoleProvider(tmp_path, "email")
    console.send(Outgoing(1, "email", "a@example.com", "Hi", "سلام"))
    console.send(Outgoing(2, "email", "b@example.com", "Hi", "Hello"))
    lines = (tmp_path / "email.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and '"body": "سلام"' in lines[0]


def test_build_follows_the_settings(tmp_path):
    class Settings:
        sms_provider, kavenegar_api_key, sms_sender = "kavenegar", "k", "3000"
        email_provider, smtp_host, smtp_port, smtp_security = "smtp", "mail", 465, "ssl"
        smtp_username, smtp_password, email_from = "u", "p", "club@example.com"

    chosen = providers.build(Settings, outbox_dir=tmp_path, kavenegar_host="127.0.0.1:9")
    assert (chosen["sms"].name, chosen["sms"].host) == ("kavenegar", "127.0.0.1:9")
    assert (chosen["email"].name, chosen["email"].security) == ("smtp", "ssl")
    Settings.sms_provider = Settings.email_provider = "console"
    chosen = providers.build(Settings, outbox_dir=tmp_path)
    assert chosen["sms"].name == chosen["email"].name == "console"


# Issue 17 item 9: the console SMS provider (and every log line) shows mobile numbers
# masked, `0912***4567`, and keeps what a developer needs: the code and the masked number.
@pytest.mark.parametrize(("text", "masked"), [
    ("09121234567", "0912***4567"),
    ("+989121234567", "+98912***4567"),
    ("00989121234567", "0098912***4567"),
    ("۰۹۱۲۱۲۳۴۵۶۷", "۰۹۱۲***۴۵۶۷"),
    ("to 09121234567, then 09351112222.", "to 0912***4567, then 0935***2222."),
    ("order 1209121234567", "order 1209121234567"),  # part of a longer number: not one
    ("code 123456", "code 123456"),
])
def test_mobile_numbers_are_masked(text, masked):
    assert log_redaction.mask_mobiles(text) == masked


class Capture(logging.Handler):
    def __init__(self, logger: logging.Logger):
        super().__init__(logging.DEBUG)
        self.logger, self.records = logger, []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        self.saved = self.logger.level, self.logger.disabled
        self.logger.setLevel(logging.INFO)
        self.logger.disabled = False
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.level, self.logger.disabled = self.saved


def test_the_console_sms_log_and_file_show_the_code_and_the_masked_number(tmp_path):
    log_redaction.install()
    console = providers.ConsoleProvider(tmp_path, "sms")
    with Capture(providers.log) as caplog:
        console.send(Outgoing(7, "sms", "09121234567", "",
                              "کد ورود شما: 482913\nباشگاه وفا (پشتیبانی 09350000001)"))
    [line] = (tmp_path / "sms.log").read_text(encoding="utf-8").splitlines()
    sent = json.loads(line)
    assert sent["to"] == "0912***4567"
    assert "482913" in sent["body"] and "0935***0001" in sent["body"]
    assert "09121234567" not in line and "09350000001" not in line
    logged = caplog.records[-1].getMessage()
    assert "0912***4567" in logged and "482913" in logged
    assert "09121234567" not in logged and "09350000001" not in logged


def test_every_log_record_masks_mobile_numbers():
    log_redaction.install()
    with Capture(logging.getLogger("backend.anything")) as caplog:
        logging.getLogger("backend.anything").info("member %s asked", "09121234567")
    assert caplog.records[-1].getMessage() == "member 0912***4567 asked"
