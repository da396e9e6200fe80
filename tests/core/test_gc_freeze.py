"""`older_objects_frozen`: what exists before a pass is left out of collections until the last pass ends."""

from __future__ import annotations

import gc
import weakref

from lineup_integrations.core.gc_freeze import older_objects_frozen


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_objects_older_than_the_pass_stay_out_of_collections_until_the_last_pass_ends() -> None:
    older = Node()
    older_ref = weakref.ref(older)
    with older_objects_frozen():
        with older_objects_frozen():
            pass  # a second pass in the same process ends while the first still runs
        del older
        gc.collect()
        assert older_ref() is not None  # still frozen: the first pass runs
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert older_ref() is None


def test_cycles_a_pass_makes_are_still_collected_during_it() -> None:
    with older_objects_frozen():
        made = Node()
        made_ref = weakref.ref(made)
        del made
        gc.collect()
        assert made_ref() is None


def test_a_pass_that_fails_hands_the_objects_back() -> None:
    try:
        with older_objects_frozen():
            raise RuntimeError("the pass failed")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
