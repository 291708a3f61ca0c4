"""The Hypothesis profile tests/conftest.py loads, as docs/architecture.md "Tests" says."""

import os

from hypothesis import settings


def test_property_tests_are_not_timed_and_ci_repeats_its_examples():
    assert settings.default.deadline is None
    assert settings.default.derandomize == bool(os.environ.get("CI"))
