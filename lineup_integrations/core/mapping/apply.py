"""Applying a mapping to a chunk of provider records, vectorised with pandas.

`apply_inbound` works column by column: each inbound rule reads one provider column (following a
dotted path into nested objects), checks value types for the whole column at once, runs its
transforms over the column's distinct values, and writes one Lineup column. No Python loop runs
per record on the happy path; only the records that fail are visited one by one, to describe
their errors.

A record fails when a value is not what a rule can transform — an object or a list where text
is expected, a non-object where a dotted path expects one, a value longer than the Lineup field
holds — or when it has no id. A failing record is left out of the frame and returned in
`rejected` with every error it has and its original payload, so one bad record never fails the
chunk. Numbers and booleans are rendered as text (`42` → `"42"`, `true` → `"true"`), which is how
a scalar provider field reaches a Lineup string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from lineup_integrations.core.mapping.model import Direction, Mapping
from lineup_integrations.core.mapping.schema import LineupField, LineupSchema, lineup_schema
from lineup_integrations.core.mapping.transforms import Transform, chain, is_all_text, is_missing

EXTERNAL_ID = "external_id"
_SCALARS = (int, float, bool)
_JSON_TYPE_NAMES: dict[type, str] = {dict: "an object", list: "a list"}


class RejectedRecord(BaseModel):
    """A record the mapping could not transform: its id (if it had one), why, and the record itself."""

    external_id: str | None
    error: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class MappedBatch:
    """`frame` has `external_id` then every Lineup field of the entity (None where unmapped or empty)."""

    frame: pd.DataFrame
    rejected: list[RejectedRecord]
    mapping_version: int


class _Errors:
    """Per-record error messages, gathered column by column (only failing rows are stored)."""

    def __init__(self) -> None:
        self._parts: list[pd.Series] = []

    def add(self, failing: pd.Series, message: pd.Series | str) -> None:
        if failing.any():
            rows = failing[failing].index
            self._parts.append(pd.Series(message, index=rows) if isinstance(message, str) else message[rows])

    def by_row(self) -> pd.Series:
        if not self._parts:
            return pd.Series(dtype=object)
        return pd.concat(self._parts).groupby(level=0).agg("; ".join)


def _describe_types(values: pd.Series, rows: pd.Series, what: str) -> pd.Series:
    def describe(value: Any) -> str:
        return f"{what}: expected text, got {_JSON_TYPE_NAMES.get(type(value), type(value).__name__)}"

    return values[rows].map(describe)


def _read_path(raw: pd.DataFrame, path: tuple[str, ...], errors: _Errors) -> pd.Series:
    """The values at `path` (a column, then keys into objects); a non-object on the way is an error."""
    values = raw[path[0]]
    for depth, key in enumerate(path[1:], start=1):
        cells = values.to_numpy(dtype=object)
        is_object = np.fromiter((type(cell) is dict for cell in cells), dtype=bool, count=len(cells))
        errors.add(
            pd.Series(~is_object & ~pd.isna(cells), index=values.index),
            f"{'.'.join(path[:depth])}: expected an object with {key!r}",
        )
        inner = np.fromiter(
            (cell.get(key) if type(cell) is dict else None for cell in cells), dtype=object, count=len(cells)
        )
        values = pd.Series(inner, index=values.index, dtype=object)
    return values


def _as_text(values: pd.Series, field: str, errors: _Errors) -> pd.Series:
    """Text and missing stay, numbers and booleans become text, anything else is an error (and None)."""
    if is_all_text(values):
        return values
    kinds = values.map(type)
    missing = values.isna()
    scalar = kinds.isin(_SCALARS) & ~missing
    wrong = ~(kinds.eq(str) | missing | scalar)
    errors.add(wrong, _describe_types(values, wrong, field))
    values = values.where(~(missing | wrong), None)
    if scalar.any():
        values = values.copy()
        values[scalar] = values[scalar].map(lambda value: str(value).lower() if isinstance(value, bool) else str(value))
    return values


def _transform_distinct(values: pd.Series, transform: Transform) -> tuple[np.ndarray, np.ndarray]:
    """`transform` applied to each distinct value once (names, titles, companies repeat a lot in
    CRM data), then spread back to the rows: `(distinct results, row → distinct index)`. Missing
    values share one slot, which `default:` may fill."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    codes[codes < 0] = len(uniques)
    distinct = pd.Series(np.append(np.asarray(uniques, dtype=object), np.array([None], dtype=object)), dtype=object)
    return transform.apply(distinct).to_numpy(dtype=object, na_value=None), codes


def _longer_than(values: np.ndarray, limit: int) -> np.ndarray:
    present = ~pd.isna(values)
    longer = np.zeros(len(values), dtype=bool)
    longer[present] = _LENGTH(values[present]).astype(int) > limit
    return longer


_LENGTH = np.frompyfunc(len, 1, 1)


def _frame(records: pd.DataFrame | Sequence[MappingABC[str, Any]], columns: list[str]) -> pd.DataFrame:
    if isinstance(records, pd.DataFrame):
        return records.reindex(columns=columns).astype(object).reset_index(drop=True)
    return pd.DataFrame(list(records), columns=columns, dtype=object)


def _payload(records: pd.DataFrame | Sequence[MappingABC[str, Any]], row: int) -> dict[str, Any]:
    """The record as given, JSON-safe (it is stored in the dead-letter table): a frame's row goes
    through pandas' JSON writer, which turns NaN into null and numpy scalars into numbers."""
    if isinstance(records, pd.DataFrame):
        return json.loads(records.iloc[[row]].to_json(orient="records", date_format="iso"))[0]
    return dict(records[row])


def _lineup_field(schema: LineupSchema, name: str) -> LineupField:
    field = schema.get(name)
    if field is None:  # a mapping that skipped validation: a programming error, not a bad record
        raise ValueError(f"mapping names unknown Lineup field {name!r} for {schema.entity}")
    return field


def apply_inbound(
    records: pd.DataFrame | Sequence[MappingABC[str, Any]], mapping: Mapping, *, id_field: str = "id"
) -> MappedBatch:
    """Map one chunk of provider records (dicts as the API returned them, or a frame of them) into
    Lineup's schema with the mapping's inbound rules. See the module docstring for what is rejected."""
    schema = lineup_schema(mapping.entity)
    rules = mapping.rules_for(Direction.INBOUND)
    limits = {rule.source_field: _lineup_field(schema, rule.source_field).max_length for rule in rules}
    raw = _frame(records, list(dict.fromkeys([id_field, *(rule.target_path[0] for rule in rules)])))
    errors = _Errors()

    ids = _as_text(raw[id_field], id_field, errors)
    errors.add(ids.isna() & raw[id_field].isna(), f"{id_field}: missing")
    columns: dict[str, np.ndarray] = {EXTERNAL_ID: ids.to_numpy(dtype=object, na_value=None)}
    for rule in rules:
        values = _as_text(_read_path(raw, rule.target_path, errors), rule.target_field, errors)
        distinct, rows = _transform_distinct(values, chain(rule.transform))
        limit = limits[rule.source_field]
        if limit is not None:
            errors.add(
                pd.Series(_longer_than(distinct, limit)[rows], index=raw.index),
                f"{rule.target_field}: longer than the {limit} characters Lineup's {rule.source_field} holds",
            )
        columns[rule.source_field] = distinct[rows]

    failures = errors.by_row()
    keep = np.ones(len(raw), dtype=bool)
    keep[failures.index.to_numpy(dtype=int)] = False
    frame = pd.DataFrame(
        {name: (columns[name][keep] if name in columns else None) for name in (EXTERNAL_ID, *schema.field_names)},
        index=pd.RangeIndex(int(keep.sum())),
        dtype=object,
    )
    rejected = [
        RejectedRecord(
            external_id=None if is_missing(ids[row]) else ids[row], error=message, payload=_payload(records, int(row))
        )
        for row, message in failures.items()
    ]
    return MappedBatch(frame=frame, rejected=rejected, mapping_version=mapping.version)
