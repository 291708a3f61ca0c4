"""Fixtures for messages: a fixed, movable clock; the fake Kavenegar API; an SMTP server."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from backend.models import MessageSettings
from backend.notifications import providers
from tests.conftest import NOW
from tests.support import kavenegar as fake_kavenegar


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> "Clock":
        self.now += timedelta(**delta)
        return self


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(scope="session")
def kavenegar_server(tmp_path_factory):
    fake, server, thread = fake_kavenegar.start(tmp_path_factory.mktemp("kavenegar"))
    yield fake
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def kavenegar_api(kavenegar_server, monkeypatch):
    """The fake API, emptied, with its test CA trusted by `requests`."""
    kavenegar_server.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(kavenegar_server.ca_path))
    return kavenegar_server


@pytest.fixture
def kavenegar_provider(kavenegar_api):
    return providers.KavenegarProvider(fake_kavenegar.API_KEY, "10004346",
                                       host=kavenegar_api.host)


def message_settings(db, **values) -> MessageSettings:
    row = db.get(MessageSettings, 1)
    for key, value in values.items():
        setattr(row, key, value)
    db.flush()
    return row
