"""What each trigger kind and pattern costs a CloudFormation stack after the SAM transform.

``make docs`` writes these figures into templates/catalog.yml (``stack_base`` and each kind's
and pattern's ``stack_cost``); ``new`` and ``add-trigger`` add them up to refuse a project
CloudFormation would refuse. They are measured here, not estimated: projects are rendered
with one and two triggers of a kind, translated as ``sam deploy`` would, and counted. The
figures are exact for resources, outputs, parameters and mappings; template bytes are an
upper bound (measured with the longest project and trigger names the validators allow).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gates import load_template, sam_translate

from trigger_scaffold._catalog import Catalog
from trigger_scaffold._cli import main

FIELDS = ("resources", "outputs", "parameters", "mappings", "bytes")
Cost = dict[str, int]
# The longest names the validators allow, so byte counts are upper bounds.
PROJECT_NAME = "p" * 30
NAMES = ("q" * 20, "r" * 20)


def translated_counts(project: Path) -> Cost:
    """Resources, outputs, parameters and mappings after the SAM transform; template bytes."""
    template = project / "template.yaml"
    translated = sam_translate(load_template(template))
    counts = {field: len(translated.get(field.capitalize(), {})) for field in FIELDS[:-1]}
    counts["bytes"] = len(template.read_bytes())
    return counts


def render_counts(args: Iterable[str], project_name: str = PROJECT_NAME) -> Cost:
    """Render a project with ``new`` arguments ``args`` and count its translated template."""
    scratch = Path(tempfile.mkdtemp(prefix="stack-cost-"))
    try:
        dest = scratch / project_name
        code = main(["new", str(dest), "--no-input", "--quiet", *args])
        if code != 0:
            raise RuntimeError(f"new {' '.join(args)} exited {code}")
        return translated_counts(dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _minus(a: Cost, b: Cost) -> Cost:
    return {field: a[field] - b[field] for field in FIELDS}


def _plus(a: Cost, b: Cost) -> Cost:
    return {field: a[field] + b[field] for field in FIELDS}


def _one_and_two(kind: str, pattern: str) -> tuple[Cost, Cost]:
    head = ["--pattern", pattern, "--trigger", f"{kind}:{NAMES[0]}"]
    return render_counts(head), render_counts([*head, "--trigger", f"{kind}:{NAMES[1]}"])


def _zero() -> Cost:
    return dict.fromkeys(FIELDS, 0)


def _agreed(values: dict[str, Cost], what: str, *, odd_ok: bool) -> Cost:
    """The one cost every measurement gives (bytes: the largest), else an error naming the odd ones.

    Template bytes vary a little with the text around the names; the counts must not.
    """
    counts = Counter(tuple(value[f] for f in FIELDS[:-1]) for value in values.values())
    common = counts.most_common(1)[0][0]
    odd = [key for key, value in values.items() if tuple(value[f] for f in FIELDS[:-1]) != common]
    if odd and not odd_ok:
        raise RuntimeError(f"{what} differs for {', '.join(odd)}: the cost model is not additive")
    agreed = [v["bytes"] for v in values.values() if tuple(v[f] for f in FIELDS[:-1]) == common]
    return {**dict(zip(FIELDS, common, strict=False)), "bytes": max(agreed)}


def _shared(first: Cost, start: Cost, kind: str) -> Cost:
    """What the first trigger of ``kind`` costs beyond ``start`` and its own ``each`` cost."""
    cost = _minus(first, start)
    if any(cost[f] < 0 for f in FIELDS[:-1]):
        raise RuntimeError(f"{kind} starts below the base: the cost model is not additive")
    cost["bytes"] = max(cost["bytes"], 0)
    return cost


def measure(catalog: Catalog, kinds: Iterable[str] | None = None) -> dict[str, Any]:
    """The stack's fixed base, each kind's cost, each pattern's fixed and per-entry costs.

    A project costs ``base``, plus ``safe_deployments`` once when any of its functions shifts
    traffic with CodeDeploy (the shared application, its parameters), plus each kind's
    ``shared`` cost once per kind present and its ``each`` cost per trigger, plus the pattern's
    ``fixed`` cost and, per entry trigger, the pattern's ``entries`` cost instead of ``each``.
    """
    wanted = [t for t in catalog.triggers if t.available and (kinds is None or t.id in kinds)]
    none = catalog.defaults.pattern
    each: dict[str, Cost] = {}
    firsts: dict[str, Cost] = {}
    for kind in wanted:
        one, two = _one_and_two(kind.id, none)
        each[kind.id] = _minus(two, one)
        firsts[kind.id] = _minus(one, each[kind.id])
    unsafe = {k.id: firsts[k.id] for k in wanted if not k.safe_deployments}
    safe = {k.id: firsts[k.id] for k in wanted if k.safe_deployments}
    # The cost most kinds start from is the base; a kind that starts higher shares resources
    # between its triggers (one SES receipt rule set, one Config permission...).
    base = _agreed(unsafe, "the stack's base", odd_ok=False) if unsafe else _zero()
    safe_extra = _minus(_agreed(safe, "the stack's base with CodeDeploy", odd_ok=True), base)
    shared = {
        k.id: _shared(firsts[k.id], _plus(base, safe_extra) if k.safe_deployments else base, k.id)
        for k in wanted
    }
    patterns: dict[str, dict[str, Any]] = {}
    for pattern in catalog.patterns:
        if pattern.id == none or not pattern.available:
            continue
        entries: dict[str, Cost] = {}
        fixed: dict[str, Cost] = {}
        for kind in wanted:
            if pattern.accepts(kind.id):
                one, two = _one_and_two(kind.id, pattern.id)
                entries[kind.id] = _minus(two, one)
                start = _plus(_plus(base, safe_extra), shared[kind.id])
                fixed[kind.id] = _minus(_minus(one, entries[kind.id]), start)
        if fixed:
            own = _agreed(fixed, f"{pattern.id}'s own cost", odd_ok=True)
            patterns[pattern.id] = {
                "own": own,
                "entries": {
                    k: {"each": v, "shared": _shared(fixed[k], own, k)} for k, v in entries.items()
                },
            }
    return {
        "base": base,
        "safe_deployments": safe_extra,
        "kinds": {k: {"each": each[k], "shared": shared[k]} for k in each},
        "patterns": patterns,
    }
