"""The ISO 4217 list (src/core/currencies.py): complete, current, three capitals each."""

from __future__ import annotations

from src.core.currencies import ISO_4217, SYMBOLS


def test_the_list_is_the_full_current_one() -> None:
    assert 175 <= len(ISO_4217) <= 185  # List One holds about 180 codes
    assert all(len(c) == 3 and c.isupper() for c in ISO_4217)
    assert {"EUR", "USD", "XAU", "XXX", "ZWG", "XCG", "SLE", "XAD"} <= ISO_4217
    assert not {"HRK", "ZWL", "DEM", "EURO", "BGN", "ANG"} & ISO_4217  # withdrawn or never codes


def test_every_symbol_is_of_a_listed_code() -> None:
    assert set(SYMBOLS) <= ISO_4217


def test_the_list_is_the_one_pycountry_holds() -> None:
    """An outside judge: pycountry's ISO 4217 data (its own copy of SIX's list)."""
    import pycountry  # requirements-dev.txt

    assert {currency.alpha_3 for currency in pycountry.currencies} == ISO_4217
