"""The suite's RSA keys (``tests.conftest._RsaKeys``): generated once per test process and handed
out anew in every test, so a key must never be one a test meets twice for two purposes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

_seen: dict[str, list[int]] = {}


def _modulus() -> int:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers().public_numbers.n


@pytest.fixture(scope="module")
def held_by_the_module() -> int:
    """A key of a fixture wider than a test, made before the test's own."""
    return _modulus()


def test_the_keys_of_one_test_are_all_different(held_by_the_module):
    mine = [_modulus() for _ in range(3)]
    assert len({*mine, held_by_the_module}) == 4
    _seen["first"] = mine


def test_a_later_test_gets_the_same_keys_again_but_never_the_modules(held_by_the_module):
    mine = [_modulus() for _ in range(3)]
    assert held_by_the_module not in mine
    if "first" in _seen:  # the same process ran the first test (xdist may send it elsewhere)
        assert mine == _seen["first"]
