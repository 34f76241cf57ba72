"""Fixtures of the format tests (helpers live in format_samples.py)."""

from __future__ import annotations

import pytest

from xsd import registry


@pytest.fixture(params=[f.name for f in registry.formats()])
def format_name(request: pytest.FixtureRequest) -> str:
    """Each registered format in turn, by name."""
    return request.param
