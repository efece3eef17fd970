"""What each trigger kind and pattern costs a CloudFormation stack after the SAM transform.

``make docs`` writes these figures into templates/catalog.yml (``stack_costs``); ``new`` and
``add-trigger`` add them up to refuse a project CloudFormation would refuse. They are
measured, not estimated: for each kind (alone, and as the entry of each pattern) a project
with one trigger and one with two are rendered, translated as ``sam deploy`` would, and their
resources, outputs, parameters and mappings compared by logical id. What the second trigger
adds is the kind's cost per trigger; what the first brings beyond its own ids is shared, and
is grouped by the set of kinds that bring the very same ids (an ALB's and an API's first
trigger in a strangler both bring ``LegacyBaseUrl``...), so the sums are exact for any mix.
Template bytes are upper-bound estimates, measured with the longest names the validators
allow.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gates import load_template, sam_translate

from trigger_scaffold._catalog import Catalog
from trigger_scaffold._cli import main

SECTIONS = ("resources", "outputs", "parameters", "mappings")
FIELDS = (*SECTIONS, "bytes")
Cost = dict[str, int]
Ids = frozenset[tuple[str, str]]  # (section, logical id)
# The longest names the validators allow, so byte counts are upper bounds.
PROJECT_NAME = "p" * 30
NAMES = ("q" * 20, "r" * 20)
_HASH = re.compile(r"(?<=Version)[0-9a-f]{10}$|(?<=Deployment)[0-9a-f]{10}$")


def translated_counts(project: Path) -> Cost:
    """Resources, outputs, parameters and mappings after the SAM transform; template bytes."""
    ids, size = _translated_ids(project)
    counts = {section: sum(1 for s, _ in ids if s == section) for section in SECTIONS}
    return {**counts, "bytes": size}


def _translated_ids(project: Path) -> tuple[Ids, int]:
    template = project / "template.yaml"
    translated = sam_translate(load_template(template))
    ids = frozenset(
        (section, logical_id)
        for section in SECTIONS
        for logical_id in translated.get(section.capitalize(), {})
    )
    return ids, len(template.read_bytes())


def _render(args: list[str]) -> tuple[Ids, int]:
    scratch = Path(tempfile.mkdtemp(prefix="stack-cost-"))
    try:
        dest = scratch / PROJECT_NAME
        code = main(["new", str(dest), "--no-input", "--quiet", *args])
        if code != 0:
            raise RuntimeError(f"new {' '.join(args)} exited {code}")
        return _translated_ids(dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _count(ids: Iterable[tuple[str, str]], size: int = 0) -> Cost:
    ids = list(ids)
    return {**{s: sum(1 for section, _ in ids if section == s) for s in SECTIONS}, "bytes": size}


def _unhashed(logical_id: str) -> str:
    """SAM suffixes versions and deployments with a hash of their content."""
    return _HASH.sub("", logical_id)


def _measure_kind(kind: str, pattern: str) -> tuple[Cost, Ids, int]:
    """A kind's cost per trigger, the ids its first trigger brings beyond its own, their bytes."""
    head = ["--pattern", pattern, "--trigger", f"{kind}:{NAMES[0]}"]
    one, one_size = _render(head)
    two, two_size = _render([*head, "--trigger", f"{kind}:{NAMES[1]}"])
    each = two - one
    # The first trigger's own ids are the second's with its name; a kind may name what its
    # triggers share after the first (one SES receipt rule set): that is shared, not own.
    theirs = {
        (s, _unhashed(i.replace(NAMES[1].capitalize(), NAMES[0].capitalize()))) for s, i in each
    }
    first_own = {(s, i) for s, i in one if (s, _unhashed(i)) in theirs}
    if len(two) - len(one) != len(each) or _count(first_own) != _count(each):
        raise RuntimeError(f"{kind} ({pattern}): some ids of a trigger do not carry its name")
    return _count(each, two_size - one_size), one - first_own, one_size - (two_size - one_size)


def _groups(fixed: dict[str, Ids], kinds: list[str]) -> tuple[Ids, list[dict[str, Any]]]:
    """The ids every kind brings, and the rest grouped by the exact set of kinds bringing them."""
    common = frozenset.intersection(*fixed.values())
    by_kinds: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for item in sorted(frozenset.union(*fixed.values()) - common):
        by_kinds[tuple(k for k in kinds if item in fixed[k])].append(item)
    return common, [
        {"kinds": list(k), "cost": _count(ids), "ids": frozenset(ids)}
        for k, ids in by_kinds.items()
    ]


def measure(catalog: Catalog, kinds: Iterable[str] | None = None) -> dict[str, Any]:
    """The stack's base, shared groups and per-trigger costs; each pattern's likewise.

    A project costs ``base``; plus each ``shared`` group once when any of its kinds is
    present; plus each trigger's cost. A pattern adds its ``own`` cost and its ``shared``
    groups, and its ``entries`` costs replace the kinds' per-trigger costs.
    """
    wanted = [t.id for t in catalog.triggers if t.available and (kinds is None or t.id in kinds)]
    none = catalog.defaults.pattern
    each: dict[str, Cost] = {}
    fixed: dict[str, Ids] = {}
    sizes: dict[str, int] = {}
    for kind in wanted:
        each[kind], fixed[kind], sizes[kind] = _measure_kind(kind, none)
    common, shared = _groups(fixed, wanted)
    patterns: dict[str, dict[str, Any]] = {}
    for pattern in catalog.patterns:
        entries = [k for k in wanted if pattern.accepts(k)]
        if pattern.id == none or not pattern.available or not entries:
            continue
        costs: dict[str, Cost] = {}
        own: dict[str, Ids] = {}
        brought: set[tuple[str, str]] = set()
        own_sizes: list[int] = []
        for kind in entries:
            costs[kind], ids, size = _measure_kind(kind, pattern.id)
            own[kind] = ids - fixed[kind]
            brought |= ids
            own_sizes.append(size - sizes[kind])
        pattern_common, pattern_shared = _groups(own, entries)
        # A shared group of the project without a pattern that none of this pattern's entries
        # brings (the idempotency table: entries have no idempotency) is not paid here.
        for group in shared:
            if set(group["kinds"]) & set(entries) and not group["ids"] & brought:
                group.setdefault("except_patterns", []).append(pattern.id)
        patterns[pattern.id] = {
            "own": _count(pattern_common, max(own_sizes)),
            "shared": pattern_shared,
            "entries": costs,
        }
    return {
        "base": _count(common, max(sizes.values())),
        "shared": shared,
        "kinds": each,
        "patterns": patterns,
    }
