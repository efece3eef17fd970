"""CloudFormation's per-stack quotas, and what a project counts against them.

The counts come from the catalog's ``stack_costs`` (measured by ``make docs`` on translated
projects), so ``new`` and ``add-trigger`` can refuse a project before writing anything,
without running the SAM transform.
"""

from __future__ import annotations

from collections.abc import Sequence

from trigger_scaffold._catalog import Catalog, StackCost
from trigger_scaffold._errors import TriggerScaffoldError

# DOCS https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
# The template body limit is the one for a template in S3: `sam deploy` uploads it there.
QUOTAS: tuple[tuple[str, int, str], ...] = (
    ("resources", 500, "resources after the SAM transform"),
    ("outputs", 200, "outputs after the SAM transform"),
    ("parameters", 200, "parameters after the SAM transform"),
    ("mappings", 200, "mappings after the SAM transform"),
    ("bytes", 1_048_576, "bytes of template.yaml (an upper estimate)"),
)


def _each(catalog: Catalog, pattern_id: str, kind: str) -> StackCost:
    """What every ``kind`` trigger costs in a project of ``pattern_id``."""
    entries = dict(catalog.pattern(pattern_id).entry_stack_costs)
    return entries.get(kind, catalog.trigger(kind).stack_cost)


def project_cost(catalog: Catalog, pattern_id: str, kinds: Sequence[str]) -> StackCost:
    """What a project of ``pattern_id`` with triggers of ``kinds`` counts after the transform.

    Shared groups are paid once for any of their kinds: one CodeDeploy application serves
    every function that shifts traffic; the strangler's legacy URL serves either API.
    """
    pattern = catalog.pattern(pattern_id)
    total = catalog.stack_base + pattern.stack_cost
    for group in (*catalog.stack_shared, *pattern.stack_shared):
        if set(group.kinds) & set(kinds) and pattern_id not in group.except_patterns:
            total += group.cost
    for kind in kinds:
        total += _each(catalog, pattern_id, kind)
    return total


def crossed_quota(cost: StackCost) -> tuple[str, int, int] | None:
    """The first quota ``cost`` crosses, as (what, count, limit), or None."""
    for field, limit, label in QUOTAS:
        count: int = getattr(cost, field)
        if count > limit:
            return label, count, limit
    return None


def fits(catalog: Catalog, pattern_id: str, kinds: Sequence[str]) -> bool:
    """Whether the project stays within every quota."""
    return crossed_quota(project_cost(catalog, pattern_id, kinds)) is None


def room_for(catalog: Catalog, pattern_id: str, kinds: Sequence[str], kind: str) -> int:
    """How many more ``kind`` triggers a project with ``kinds`` can take."""
    if not _each(catalog, pattern_id, kind).resources:
        raise TriggerScaffoldError(f"the catalog has no stack cost for {kind!r}; run `make docs`")
    more = 0
    while fits(catalog, pattern_id, [*kinds, *[kind] * (more + 1)]):
        more += 1
    return more


def _triggers(count: int, kind: str) -> str:
    return f"{count} {kind} trigger{'' if count == 1 else 's'}"


def check_quotas(
    catalog: Catalog, pattern_id: str, kinds: Sequence[str], *, adding: str | None = None
) -> None:
    """Refuse, in one line, a project that CloudFormation would refuse as one stack.

    ``kinds`` are the triggers of the project about to be written (for ``add-trigger``, the
    project's triggers and then ``adding``). The refusal names the quota, the count and the
    largest project that fits.
    """
    crossed = crossed_quota(project_cost(catalog, pattern_id, kinds))
    if crossed is None:
        return
    label, count, limit = crossed
    with_pattern = (
        "" if pattern_id == catalog.defaults.pattern else f" with the {pattern_id} pattern"
    )
    if adding is not None:
        what = f"one more {adding} trigger makes"
    elif len(set(kinds)) == 1:
        verb = "makes" if len(kinds) == 1 else "make"
        what = f"{_triggers(len(kinds), kinds[0])}{with_pattern} {verb}"
    else:
        what = f"{len(kinds)} triggers{with_pattern} make"
    fitting = next((n for n in range(len(kinds), 0, -1) if fits(catalog, pattern_id, kinds[:n])), 0)
    if len(set(kinds)) == 1:
        largest = f"at most {_triggers(fitting, kinds[0])} fit"
    elif adding is not None and fitting == len(kinds) - 1:
        largest = f"the project's {fitting} triggers are the most that fit"
    else:
        largest = f"the first {fitting} of these {len(kinds)} triggers fit"
    raise TriggerScaffoldError(
        f"{what} {count} {label}; CloudFormation allows {limit} "
        f"per stack: {largest} (split the service into several projects)"
    )
