"""The transforms: documented examples, and properties over arbitrary text (hypothesis)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineup_integrations.core.mapping import UnknownTransformError, chain, transform
from lineup_integrations.core.mapping.transforms import transform_docs, transform_names

IDEMPOTENT = [
    "none",
    "uppercase",
    "lowercase",
    "trim",
    "collapse_whitespace",
    "title_case",
    "normalize_email",
    "format_phone",
    "default:Unknown",
]
ALL_SPECS = IDEMPOTENT
# Text that exercises the interesting corners: Unicode whitespace, case mappings that change
# length (ß, İ, ŉ, ligatures), digits of other scripts, and phone/e-mail punctuation.
phoneish = st.text(alphabet="0123456789 +-().x/#ext\u00a0\u2009٣\v\x00", max_size=30)
emailish = st.text(alphabet="aZ.@ _-\t\u00a0İßΣ\u0345\x00", max_size=20)
any_text = st.one_of(st.text(), phoneish, emailish)
cells = st.one_of(st.none(), any_text, st.integers(), st.dictionaries(st.text(max_size=3), st.text(max_size=3)))


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("none", " Zylker ", " Zylker "),
        ("uppercase", "r&d", "R&D"),
        ("lowercase", "John.Doe@Zylker.COM", "john.doe@zylker.com"),
        ("trim", "  CTO \n", "CTO"),
        ("trim", "\u00a0CTO\u2009", "CTO"),
        ("collapse_whitespace", " John \t  Doe ", "John Doe"),
        ("title_case", "jOHN o'neil-SMITH", "John O'neil-Smith"),
        ("title_case", "don't 2nd ŉ", "Don't 2Nd ʼN"),
        ("normalize_email", " John.Doe@Zylker.com ", "john.doe@zylker.com"),
        ("normalize_email", " n/a ", " n/a "),
        ("normalize_email", "two@at@signs.com", "two@at@signs.com"),
        ("format_phone", "+1 (555) 123-4567", "+15551234567"),
        ("format_phone", "+1 (555) 123-4567 x89", "+15551234567 ext 89"),
        ("format_phone", "555.123.4567 ext. 12", "5551234567 ext 12"),
        ("format_phone", "0044 20 7946 0958", "+442079460958"),
        ("format_phone", "(555) 123-4567", "5551234567"),
        ("format_phone", "00", "00"),
        ("format_phone", "0 0 49 30 1234", "+49301234"),
        ("format_phone", "0/00", "+0"),
        ("format_phone", "1-800-FLOWERS", "1-800-FLOWERS"),
        ("format_phone", "call me", "call me"),
        ("default:Unknown", None, "Unknown"),
        ("default:Unknown", "   ", "Unknown"),
        ("default:Unknown", "R&D", "R&D"),
        ("default:a:b", "", "a:b"),
    ],
)
def test_documented_behaviour(spec: str, value: str | None, expected: str) -> None:
    assert transform(spec)(value) == expected


@pytest.mark.parametrize("spec", ALL_SPECS)
@given(value=any_text)
def test_never_raises_on_text_and_returns_text(spec: str, value: str) -> None:
    assert isinstance(transform(spec)(value), str)


@pytest.mark.parametrize("spec", IDEMPOTENT)
@given(value=any_text)
def test_idempotent(spec: str, value: str) -> None:
    once = transform(spec)(value)
    assert transform(spec)(once) == once


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if not s.startswith("default")])
def test_none_stays_missing(spec: str) -> None:
    assert transform(spec)(None) is None
    series = transform(spec).apply(pd.Series([None, float("nan")], dtype=object))
    assert series.isna().all()


@pytest.mark.parametrize("spec", ALL_SPECS)
@given(values=st.lists(cells, max_size=12))
def test_column_form_equals_value_form(spec: str, values: list[object]) -> None:
    """The vectorised form agrees with the one-value form cell by cell, non-text cells included
    (which pass through untouched)."""
    result = transform(spec).apply(pd.Series(values, dtype=object))
    assert list(result.index) == list(range(len(values)))
    assert [None if pd.isna(cell) else cell for cell in result] == [transform(spec)(value) for value in values]


@given(values=st.lists(st.one_of(st.integers(), st.dictionaries(st.text(max_size=2), st.integers())), max_size=5))
def test_non_text_passes_through(values: list[object]) -> None:
    for spec in ALL_SPECS:
        assert list(transform(spec).apply(pd.Series(values, dtype=object))) == values


_REFERENCE_PHONE = re.compile(
    r"\s*(?P<international>\+|00)?(?P<body>[0-9\s().\-/]*[0-9][0-9\s().\-/]*?)"
    r"(?:\s*(?:ext\.?|extension|x|\#)\s*(?P<extension>[0-9]+))?\s*",
    re.IGNORECASE,
)


@given(value=st.one_of(phoneish, st.text()))
def test_format_phone_follows_its_grammar(value: str) -> None:
    """The fast path for plain numbers gives exactly what the documented grammar gives; digits
    that begin with 00 once the separators are gone begin with the international prefix too."""
    match = _REFERENCE_PHONE.fullmatch(value)
    if match is None:
        assert transform("format_phone")(value) == value
        return
    digits = re.sub(r"[^0-9]", "", match["body"])
    number = ("+" if match["international"] else "") + digits
    if not match["international"] and digits.startswith("00") and len(digits) > 2:
        number = "+" + digits[2:]
    assert transform("format_phone")(value) == number + (f" ext {match['extension']}" if match["extension"] else "")


def test_chain_applies_left_to_right() -> None:
    assert chain(["trim", "title_case"])("  ada LOVELACE ") == "Ada Lovelace"
    column = pd.Series([" ", None, "x"], dtype=object)
    assert chain(["title_case", "default:—"]).apply(column).tolist() == ["—", "—", "X"]
    # Idempotent parts do not make an idempotent chain, and the chain says so.
    trim_then_default = chain(["trim", "default: x"])
    assert trim_then_default(None) == " x" and trim_then_default(" x") == "x"
    assert not trim_then_default.idempotent


@pytest.mark.parametrize("spec", ["shout", "default", "default:", "trim:yes", "Trim", ""])
def test_unknown_or_malformed_specs_are_refused(spec: str) -> None:
    with pytest.raises(UnknownTransformError):
        transform(spec)


def test_every_transform_is_documented_with_an_example() -> None:
    docs = transform_docs()
    assert set(docs) == {
        "none",
        "uppercase",
        "lowercase",
        "trim",
        "collapse_whitespace",
        "title_case",
        "normalize_email",
        "format_phone",
        "default",
    }
    assert all("Example" in doc and "→" in doc for doc in docs.values())
    assert "default:<value>" in transform_names()
