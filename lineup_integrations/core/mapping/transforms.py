"""Named value transforms that field rules apply, each over a whole pandas column at once.

A rule names a transform (`"trim"`), a parameterised one (`"default:Unknown"`) or an ordered list
of them (`["trim", "title_case"]`, applied left to right). Each transform is defined once, as a
function of one string; `Transform.apply` lifts it to a column (one numpy ufunc pass over the
text cells — on object columns that is what pandas' own `.str` methods do, minus their overhead),
and calling a `Transform` applies it to one value. The contract, the same in both forms:

- text is transformed, and no string ever makes a transform raise;
- `None` (and any other missing marker) stays missing, except for `default:<value>`;
- any non-text value (a number, a dict…) passes through untouched: whether a value of the wrong
  type is an error is the caller's decision (`apply.py` rejects the record); a transform never
  loses data silently.

Transforms marked idempotent satisfy `t(t(x)) == t(x)` for every string (property-tested).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

TextFn = Callable[[str], str]
PARAMETER_SEPARATOR = ":"
_ALL_TEXT = frozenset({"string", "empty"})  # `infer_dtype` verdicts of a column with only text or missing


class UnknownTransformError(ValueError):
    """A transform spec that names no registered transform, or lacks its parameter. The message
    does not repeat an unknown spec (API errors never echo request values); `spec` holds it."""

    def __init__(self, message: str, *, spec: str) -> None:
        super().__init__(message)
        self.spec = spec


def is_missing(value: Any) -> bool:
    """None or NaN: what pandas counts as a missing cell of an object column."""
    return value is None or (isinstance(value, float) and value != value)


def is_all_text(values: pd.Series | np.ndarray) -> bool:
    """Whether every cell is text or missing (one C-speed scan that stops at the first other value)."""
    return infer_dtype(values, skipna=True) in _ALL_TEXT


def _text_mask(values: np.ndarray) -> np.ndarray:
    """Which cells of an object array hold text (one C-speed type scan when all of them do)."""
    if is_all_text(values):
        return ~pd.isna(values)
    return _IS_TEXT(values).astype(bool)


_IS_TEXT = np.frompyfunc(lambda value: isinstance(value, str), 1, 1)


@dataclass(frozen=True)
class _Step:
    text: TextFn
    missing: str | None = None  # what a missing value becomes; None keeps it missing
    # `text` over an array of strings at once, where that is much faster than one call per string.
    text_column: Callable[[np.ndarray], np.ndarray] | None = None

    def one(self, value: Any) -> Any:
        if is_missing(value):
            return self.missing
        return self.text(value) if isinstance(value, str) else value

    def column(self, series: pd.Series) -> pd.Series:
        # numpy's ufunc loop over the text cells only, and no dtype inference on the result.
        values = series.to_numpy(dtype=object)
        result = values.copy()
        is_text = _text_mask(values)
        if is_text.any():
            result[is_text] = (self.text_column or np.frompyfunc(self.text, 1, 1))(values[is_text])
        if self.missing is not None:
            result[pd.isna(values)] = self.missing
        return pd.Series(result, index=series.index, dtype=object)


@dataclass(frozen=True)
class Transform:
    """A resolved spec: `apply(series)` transforms a column; calling it transforms one value.
    `none` has no steps; a chain has the steps of its parts, in order."""

    spec: str
    steps: tuple[_Step, ...]
    idempotent: bool

    def __call__(self, value: Any) -> Any:
        for step in self.steps:
            value = step.one(value)
        return value

    def apply(self, series: pd.Series) -> pd.Series:
        for step in self.steps:
            series = step.column(series)
        return series


_Builder = Callable[..., tuple[_Step, ...]]  # the transform's parameter, if it takes one → its steps


@dataclass(frozen=True)
class _Definition:
    build: _Builder
    idempotent: bool
    takes_parameter: bool
    doc: str


_REGISTRY: dict[str, _Definition] = {}


def _register(name: str, *, idempotent: bool, takes_parameter: bool = False) -> Callable[[_Builder], _Builder]:
    def decorate(build: _Builder) -> _Builder:
        _REGISTRY[name] = _Definition(build, idempotent, takes_parameter, (build.__doc__ or "").strip())
        return build

    return decorate


@_register("none", idempotent=True)
def _none() -> tuple[_Step, ...]:
    """The value as it is. Example: `" Zylker "` → `" Zylker "`."""
    return ()


@_register("uppercase", idempotent=True)
def _uppercase() -> tuple[_Step, ...]:
    """Unicode upper case. Example: `"r&d"` → `"R&D"`."""
    return (_Step(str.upper),)


@_register("lowercase", idempotent=True)
def _lowercase() -> tuple[_Step, ...]:
    """Unicode lower case. Example: `"John.Doe@Zylker.COM"` → `"john.doe@zylker.com"`."""
    return (_Step(str.lower),)


@_register("trim", idempotent=True)
def _trim() -> tuple[_Step, ...]:
    """Leading and trailing whitespace removed (any Unicode space). Example: `"  CTO \\n"` → `"CTO"`."""
    return (_Step(str.strip),)


def _collapse(value: str) -> str:
    return " ".join(value.split())


@_register("collapse_whitespace", idempotent=True)
def _collapse_whitespace() -> tuple[_Step, ...]:
    """Trimmed, and every run of whitespace inside made one space. Example: `" John \\t  Doe "` → `"John Doe"`."""
    return (_Step(_collapse),)


# A word for title case: a run of anything but whitespace and hyphens ("Jean-Luc" is two words).
_WORD = re.compile(r"[^\s\-]+")


def _capitalise(word: re.Match[str]) -> str:
    text = word[0]
    for index, char in enumerate(text):
        if char.lower() != char.upper():  # the first character that has case
            return text[:index] + char.title() + text[index + 1 :].lower()
    return text


def _title(value: str) -> str:
    return _WORD.sub(_capitalise, value)


@_register("title_case", idempotent=True)
def _title_case() -> tuple[_Step, ...]:
    """In each word (words are split by whitespace and hyphens) the first letter in title case and
    the rest in lower case; an apostrophe does not start a word. Unlike Python's `str.title`, it is
    idempotent on all of Unicode (a combining mark does not start a word). Example:
    `"jOHN o'neil-SMITH"` → `"John O'neil-Smith"`."""
    return (_Step(_title),)


# Something@something with no space and a single @: worth normalising; anything else is left as given.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _email(value: str) -> str:
    trimmed = value.strip()
    return trimmed.lower() if _EMAIL.fullmatch(trimmed) else value


def _object_array(items: list[str]) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


# A column made only of plain addresses (no whitespace to trim), as their text joined on NUL;
# atomic groups, so that a column that fails does so in one pass instead of backtracking.
_ALL_ADDRESSES = re.compile(r"(?>[^@\s\x00]+@[^@\s\x00]+)(?:\x00(?>[^@\s\x00]+@[^@\s\x00]+))*")


def _email_column(values: np.ndarray) -> np.ndarray:
    """`_email` over an array of strings: the addresses are told apart by the regex engine and
    lower-cased in one call over their joined text. Joining on NUL changes nothing that `lower`
    does per string (NUL is neither cased nor case-ignorable, so it bounds a final sigma's context
    as the string's ends do); a column whose addresses hold NUL goes one by one. A column of plain
    addresses only (the usual case) is recognised in one regex pass over its joined text."""
    joined = "\x00".join(values)
    without_nul = joined.count("\x00") == len(values) - 1
    if without_nul and _ALL_ADDRESSES.fullmatch(joined):
        return _object_array(joined.lower().split("\x00"))
    trimmed = np.array(list(map(str.strip, values)), dtype=object)
    is_address = np.fromiter(map(bool, map(_EMAIL.fullmatch, trimmed)), dtype=bool, count=len(values))
    result = values.copy()
    if is_address.any():
        addresses = trimmed[is_address]
        result[is_address] = (
            "\x00".join(addresses).lower().split("\x00") if without_nul else [address.lower() for address in addresses]
        )
    return result


@_register("normalize_email", idempotent=True)
def _normalize_email() -> tuple[_Step, ...]:
    """A plausible address trimmed and lower-cased; a value that is not one is left exactly as
    given (not guessed at). Example: `" John.Doe@Zylker.com "` → `"john.doe@zylker.com"`; `"n/a"` → `"n/a"`."""
    return (_Step(_email, text_column=_email_column),)


# The grammar: an optional international prefix (+ or 00), a body of ASCII digits and the usual
# separators, an optional extension. Anything else (letters, vanity numbers, two numbers) is left alone.
_PHONE = re.compile(
    r"\s*(?P<international>\+|00)?(?P<body>[0-9\s().\-/]*[0-9][0-9\s().\-/]*?)"
    r"(?:\s*(?:ext\.?|extension|x|\#)\s*(?P<extension>[0-9]+))?\s*",
    re.IGNORECASE,
)
_NOT_DIGIT = re.compile(r"[^0-9]")
_DROP_SEPARATORS = str.maketrans("", "", " \t\n\r\f\v().-/")


def _phone(value: str) -> str:
    # Fast path for the common case, a number without extension: it gives what the grammar gives;
    # everything else goes through the grammar.
    stripped = value.strip()
    plus = stripped.startswith("+")
    digits = (stripped[1:] if plus else stripped).translate(_DROP_SEPARATORS)
    if digits.isascii() and digits.isdigit():
        return _international(plus, digits)
    match = _PHONE.fullmatch(value)
    if match is None:
        return value
    international, body, extension = match.group("international", "body", "extension")
    return _international(bool(international), _NOT_DIGIT.sub("", body)) + (f" ext {extension}" if extension else "")


def _international(plus: bool, digits: str) -> str:
    """`+` and the digits. Digits that begin with `00` and go on (`0 0 49…`, `0/0049…`) begin with
    the international prefix too: left as they are, the result would read as `+…` the next time."""
    if not plus and digits.startswith("00") and len(digits) > 2:
        return "+" + digits[2:]
    return ("+" if plus else "") + digits


# A number `_phone`'s fast path formats by dropping separators alone: ASCII digits and separators,
# at least one digit, at most one `+` and only at the start. (Its `00` prefix needs the original text.)
_PLAIN_PHONE = re.compile(r"[ \t\n\r\f\v]*\+?[0-9 \t\n\r\f\v().\-/]*[0-9][0-9 \t\n\r\f\v().\-/]*")


# A column made only of plain numbers, as their text joined on NUL (atomic: see `_ALL_ADDRESSES`).
_ALL_PLAIN_PHONES = re.compile(f"(?>{_PLAIN_PHONE.pattern})(?:\x00(?>{_PLAIN_PHONE.pattern}))*")


def _phone_column(values: np.ndarray) -> np.ndarray:
    """`_phone` over an array of strings: the plain numbers (nearly all of a real column) are told
    apart by the regex engine, in one pass over the column's joined text when all of them are
    plain, and formatted together (`_plain_numbers`); the rest one by one."""
    joined = "\x00".join(values)
    if joined.count("\x00") == len(values) - 1 and _ALL_PLAIN_PHONES.fullmatch(joined):
        return _object_array(_plain_numbers(values, joined))
    is_plain = np.fromiter(map(bool, map(_PLAIN_PHONE.fullmatch, values)), dtype=bool, count=len(values))
    result = np.empty(len(values), dtype=object)
    result[~is_plain] = [_phone(value) for value in values[~is_plain]]
    if is_plain.any():
        plain = values[is_plain]
        result[is_plain] = _plain_numbers(plain, "\x00".join(plain))
    return result


def _plain_numbers(plain: np.ndarray, joined: str) -> list[str]:
    """Plain numbers (`joined`: their text joined on NUL, which a plain number cannot hold)
    formatted by one `translate` that drops the separators; `00…` ones by `_phone`, which decides."""
    digits = joined.translate(_DROP_SEPARATORS)
    numbers = digits.split("\x00")
    if digits.startswith("00") or "\x0000" in digits:
        numbers = [
            _phone(value) if number.startswith("00") else number for value, number in zip(plain, numbers, strict=True)
        ]
    return numbers


@_register("format_phone", idempotent=True)
def _format_phone() -> tuple[_Step, ...]:
    """E.164-style: separators dropped, a leading `+` kept (`00` becomes `+`), an extension kept
    as ` ext N`. Values that are not a phone number are left as given. No country is assumed, so a
    national number stays national. Example: `"+1 (555) 123-4567 x89"` → `"+15551234567 ext 89"`."""
    return (_Step(_phone, text_column=_phone_column),)


def _default_text(value: str, *, default: str) -> str:
    return value if value.strip() else default


@_register("default", idempotent=True, takes_parameter=True)
def _default(default: str) -> tuple[_Step, ...]:
    """`default:<value>`: `<value>` when the value is missing, empty or only whitespace; anything
    else unchanged. Example with `default:Unknown`: `None` → `"Unknown"`, `"  "` → `"Unknown"`,
    `"R&D"` → `"R&D"`."""
    return (_Step(functools.partial(_default_text, default=default), missing=default),)


def transform_names() -> list[str]:
    """The registered names, parameterised ones shown with their parameter (`default:<value>`)."""
    return [f"{name}{PARAMETER_SEPARATOR}<value>" if d.takes_parameter else name for name, d in _REGISTRY.items()]


def transform_docs() -> dict[str, str]:
    """Each transform's documentation (its contract and an example), by name."""
    return {name: d.doc for name, d in _REGISTRY.items()}


def transform_base_name(spec: str) -> str:
    """`"default:Unknown"` → `"default"`; a plain name is its own base."""
    return spec.split(PARAMETER_SEPARATOR, 1)[0]


@functools.lru_cache(maxsize=256)
def transform(spec: str) -> Transform:
    """Resolve one spec (`"trim"`, `"default:Unknown"`); `UnknownTransformError` names what is wrong."""
    name, separator, parameter = spec.partition(PARAMETER_SEPARATOR)
    definition = _REGISTRY.get(name)
    if definition is None:
        raise UnknownTransformError(f"unknown transform; available: {', '.join(transform_names())}", spec=spec)
    if definition.takes_parameter:
        if not separator or not parameter:
            raise UnknownTransformError(
                f"transform {name!r} needs a value: {name}{PARAMETER_SEPARATOR}<value>", spec=spec
            )
        steps = definition.build(parameter)
    elif separator:
        raise UnknownTransformError(f"transform {name!r} takes no value", spec=spec)
    else:
        steps = definition.build()
    return Transform(spec=spec, steps=steps, idempotent=definition.idempotent)


def chain(specs: Sequence[str]) -> Transform:
    """The specs applied left to right, as one transform. A chain promises no idempotence even when
    every part is idempotent (`["trim", "default: x"]` turns `None` into `" x"`, then `" x"` into `"x"`)."""
    parts = [transform(spec) for spec in specs]
    if len(parts) == 1:
        return parts[0]
    return Transform(
        spec=" | ".join(specs), steps=tuple(step for part in parts for step in part.steps), idempotent=False
    )
