"""Merge semantics: a new rule takes over exactly the (Lineup field, flow) pairs it covers."""

from __future__ import annotations

from lineup_integrations.core.mapping import Direction, FieldRule, merge_rules

IN, OUT, BOTH = Direction.INBOUND, Direction.OUTBOUND, Direction.BIDIRECTIONAL


def rule(source: str, target: str, direction: Direction, transform: str = "none") -> FieldRule:
    return FieldRule(source_field=source, target_field=target, transform=(transform,), direction=direction)


def test_a_rule_for_another_field_keeps_everything() -> None:
    current = [rule("email", "Email", BOTH), rule("title", "Title", BOTH)]
    assert merge_rules(current, [rule("phone", "Phone", BOTH)]) == (*current, rule("phone", "Phone", BOTH))


def test_same_field_and_direction_replaces() -> None:
    merged = merge_rules(
        [rule("email", "Email", BOTH, "normalize_email"), rule("title", "Title", BOTH)],
        [rule("email", "Email", BOTH, "lowercase")],
    )
    assert merged == (rule("title", "Title", BOTH), rule("email", "Email", BOTH, "lowercase"))


def test_one_way_change_splits_a_bidirectional_rule() -> None:
    merged = merge_rules([rule("email", "Email", BOTH, "normalize_email")], [rule("email", "Secondary_Email", IN)])
    assert merged == (rule("email", "Email", OUT, "normalize_email"), rule("email", "Secondary_Email", IN))


def test_other_direction_of_the_same_field_is_kept() -> None:
    merged = merge_rules([rule("name", "Full_Name", IN)], [rule("name", "Last_Name", OUT)])
    assert merged == (rule("name", "Full_Name", IN), rule("name", "Last_Name", OUT))


def test_bidirectional_change_replaces_both_one_way_rules() -> None:
    merged = merge_rules(
        [rule("phone", "Phone", IN), rule("phone", "Mobile", OUT), rule("title", "Title", IN)],
        [rule("phone", "Phone", BOTH, "format_phone")],
    )
    assert merged == (rule("title", "Title", IN), rule("phone", "Phone", BOTH, "format_phone"))


def test_each_field_and_flow_ends_with_at_most_one_rule() -> None:
    current = [rule("email", "Email", BOTH), rule("phone", "Phone", IN), rule("phone", "Mobile", OUT)]
    changes = [rule("email", "Secondary_Email", OUT), rule("phone", "Phone", BOTH)]
    merged = merge_rules(current, changes)
    pairs = [(r.source_field, flow) for r in merged for flow in r.flows]
    assert len(pairs) == len(set(pairs)) == 4
