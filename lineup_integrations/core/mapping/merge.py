"""The merge of a change into a mapping (the spec's "new mappings merge with existing ones").

A rule is identified by its Lineup field and the one-way flows it covers. A new rule for a field
takes over exactly the flows it covers from the existing rules for that field; every other rule
(and the uncovered part of a partly replaced rule) is kept. Concretely, for one field:

| existing          | new            | result                                              |
|-------------------|----------------|-----------------------------------------------------|
| bidirectional A   | inbound B      | outbound A (its inbound half replaced), inbound B   |
| inbound A         | outbound B     | inbound A, outbound B (nothing overlaps)            |
| inbound A, outbound C | bidirectional B | bidirectional B (both replaced)               |
| bidirectional A   | bidirectional B| bidirectional B                                     |

So the flows of a field never lose a rule they did not ask to change, and after a merge each
(field, flow) pair has at most one rule — which is what lets inbound application be unambiguous.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from lineup_integrations.core.mapping.model import Direction, FieldRule


def merge_rules(current: Sequence[FieldRule], changes: Sequence[FieldRule]) -> tuple[FieldRule, ...]:
    """The existing rules minus the flows `changes` take over (in their order), then `changes`.
    Every rule must have a direction."""
    taken: dict[str, set[Direction]] = defaultdict(set)
    for rule in changes:
        taken[rule.source_field] |= rule.flows
    kept: list[FieldRule] = []
    for rule in current:
        left = rule.flows - taken[rule.source_field]
        if left == rule.flows:
            kept.append(rule)
        elif left:
            kept.append(rule.model_copy(update={"direction": Direction.of(frozenset(left))}))
    return (*kept, *changes)
