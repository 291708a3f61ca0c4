"""Issue 17 item 9: the console SMS provider (and every log line) shows mobile numbers
masked, `0912***4567`, and keeps what a developer needs: the code and the masked number."""

import json
import logging

import pytest

from backend import log_redaction
from backend.notifications import providers
from backend.notifications.providers import Outgoing


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
