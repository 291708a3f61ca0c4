"""backend/services/rows.py: the edit forms' one rule for creating or updating a row."""

import pytest

from backend.errors import BadRequest
from backend.models import FaqEntry, NewsPost
from backend.services.rows import existing_row, save_row
from tests.conftest import NOW


def test_save_row_creates_then_updates_the_same_row(db):
    created = save_row(db, NewsPost, None, {"title": "تخفیف", "body": "متن"}, created_at=NOW)
    assert created.id is not None
    assert created.created_at == NOW
    updated = save_row(db, NewsPost, created.id, {"title": "تخفیف ویژه"})
    assert updated is created
    assert (updated.title, updated.body) == ("تخفیف ویژه", "متن")
    assert db.query(NewsPost).count() == 1


def test_an_id_that_names_no_row_is_the_forms_error_and_writes_nothing(db):
    with pytest.raises(BadRequest) as refusal:
        save_row(db, FaqEntry, 4242, {"question": "?", "answer": "!"})
    assert refusal.value.field == "id"
    with pytest.raises(BadRequest):
        existing_row(db, FaqEntry, 4242)
    assert db.query(FaqEntry).count() == 0
