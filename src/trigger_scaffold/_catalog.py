"""The trigger and pattern catalog, loaded from ``templates/catalog.yml`` into frozen models."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from trigger_scaffold._errors import TriggerScaffoldError
from trigger_scaffold._template import template_root

Invocation = Literal["sync", "async", "poll"]
Status = Literal["available", "planned", "retired"]


@dataclass(frozen=True)
class StackCost:
    """What a part of a project adds to its CloudFormation stack after the SAM transform.

    Measured by ``make docs`` from rendered, translated projects; ``bytes`` (of template.yaml)
    is an upper bound, taken with the longest names the validators allow.
    """

    resources: int = 0
    outputs: int = 0
    parameters: int = 0
    mappings: int = 0
    bytes: int = 0

    def __add__(self, other: StackCost) -> StackCost:
        return StackCost(
            *(a + b for a, b in zip(_cost_values(self), _cost_values(other), strict=True))
        )

    def times(self, count: int) -> StackCost:
        """This cost ``count`` times over."""
        return StackCost(*(value * count for value in _cost_values(self)))


def _cost_values(cost: StackCost) -> tuple[int, ...]:
    return (cost.resources, cost.outputs, cost.parameters, cost.mappings, cost.bytes)


def _cost(data: dict[str, int] | None) -> StackCost:
    return StackCost(**(data or {}))


@dataclass(frozen=True)
class StackGroup:
    """What a project pays once when it has any trigger of ``kinds`` (they share it).

    Not paid by projects of the ``except_patterns``, whose entries do not bring it.
    """

    kinds: tuple[str, ...]
    cost: StackCost
    except_patterns: tuple[str, ...] = ()


def _groups(data: list[dict[str, Any]] | None) -> tuple[StackGroup, ...]:
    return tuple(
        StackGroup(tuple(g["kinds"]), _cost(g["cost"]), tuple(g.get("except_patterns", ())))
        for g in data or ()
    )


@dataclass(frozen=True)
class IdempotencyOffer:
    """How a kind's function runs each business event once (Powertools Idempotency).

    ``key`` is the JMESPath, over the record or event the business logic gets, of what
    identifies one business event (``identifies`` says it in words); ``default`` whether a
    trigger of the kind gets it unless answered.
    """

    key: str
    identifies: str
    default: bool


@dataclass(frozen=True)
class TriggerKind:
    """One event source that can invoke a Lambda function."""

    id: str
    label: str
    invocation: Invocation
    summary: str
    wiring: str
    status: Status
    events: tuple[str, ...] = ()
    parser_models: tuple[tuple[str, str], ...] = ()
    moto_extras: tuple[str, ...] = ()
    id_words: tuple[str, ...] = ()
    checkov_skips: tuple[str, ...] = ()
    errors_by_design: tuple[str, ...] = ()
    invalid_event_parameters: tuple[tuple[str, str], ...] = ()
    safe_deployments: bool = True
    closed_to_new_customers: bool = False
    notice: str | None = None
    business_logic: str | None = None
    optional_fields: tuple[str, ...] = ()
    fixed_monthly_cost_usd: float | None = None
    dev_fixed_monthly_cost_usd: float | None = None
    fixed_cost_note: str = ""
    stack_cost: StackCost = StackCost()
    auth_modes: tuple[str, ...] = ()
    auth_refusal: str | None = None
    # Auth modes of other API kinds that this one cannot offer, with the reason (one line).
    auth_mode_refusals: tuple[tuple[str, str], ...] = ()
    idempotency: IdempotencyOffer | None = None

    @property
    def available(self) -> bool:
        """Whether this template version generates the kind."""
        return self.status == "available"

    def model_for(self, stem: str) -> str | None:
        """The Powertools parser model that the sample event ``stem`` must satisfy, if any."""
        return dict(self.parser_models).get(stem)


@dataclass(frozen=True)
class Pattern:
    """One architecture pattern; ``entry_triggers`` is None when any trigger fits.

    Every trigger of a pattern project is an entry of the pattern. ``functions`` are the
    pattern's own functions and ``reserved`` the other names its resource ids start with:
    no trigger may take (or extend) either.
    """

    id: str
    label: str
    summary: str
    status: Status
    entry_triggers: tuple[str, ...] | None
    why: str = ""
    functions: tuple[str, ...] = ()
    reserved: tuple[str, ...] = ()
    refuses: tuple[tuple[str, str], ...] = ()
    stack_cost: StackCost = StackCost()
    stack_shared: tuple[StackGroup, ...] = ()
    entry_stack_costs: tuple[tuple[str, StackCost], ...] = ()

    @property
    def available(self) -> bool:
        """Whether this template version generates the pattern."""
        return self.status == "available"

    def accepts(self, kind: str) -> bool:
        """Whether ``kind`` is a sensible entry trigger for this pattern."""
        return self.refusal(kind) is None

    def refusal(self, kind: str) -> str | None:
        """Why this pattern cannot take a ``kind`` trigger, or None when it can."""
        reason = dict(self.refuses).get(kind)
        if reason is not None:
            return f"pattern {self.id!r} cannot take a {kind!r} trigger: {reason}"
        if self.entry_triggers is not None and kind not in self.entry_triggers:
            return (
                f"pattern {self.id!r} cannot take a {kind!r} trigger ({self.why}); "
                f"its entry triggers: {', '.join(self.entry_triggers)}"
            )
        return None

    def reserving(self, name: str) -> str | None:
        """The reserved name that trigger name ``name`` would collide with, if any."""
        for reserved in (*self.functions, *self.reserved):
            if name == reserved or name.startswith(f"{reserved}-"):
                return reserved
        return None


@dataclass(frozen=True)
class Defaults:
    """Default answers and function settings."""

    runtime: str
    architecture: str
    pattern: str
    trigger: str
    function_timeout: int
    memory_size: int
    ci: str = "github"


@dataclass(frozen=True)
class Catalog:
    """Every trigger kind and pattern, in catalog order."""

    triggers: tuple[TriggerKind, ...]
    patterns: tuple[Pattern, ...]
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]
    invocations: dict[str, str]
    defaults: Defaults
    stack_base: StackCost = StackCost()
    stack_shared: tuple[StackGroup, ...] = ()
    ci_systems: tuple[str, ...] = ("github", "none")

    def trigger(self, kind: str) -> TriggerKind:
        """The kind with this id, or an error that lists the ids and suggests the closest."""
        for item in self.triggers:
            if item.id == kind:
                return item
        ids = [item.id for item in self.triggers]
        raise TriggerScaffoldError(_unknown("trigger kind", kind, ids))

    def pattern(self, pattern_id: str) -> Pattern:
        """The pattern with this id, or an error that lists the ids."""
        for item in self.patterns:
            if item.id == pattern_id:
                return item
        raise TriggerScaffoldError(_unknown("pattern", pattern_id, [p.id for p in self.patterns]))


def _unknown(what: str, value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {value!r}{hint}; choose one of: {', '.join(known)}"


def _trigger(kind: str, data: dict[str, Any], cost: dict[str, int] | None) -> TriggerKind:
    events = tuple(data.get("events", ()))
    model = data.get("parser_model")
    models = model if isinstance(model, dict) else dict.fromkeys(events, model) if model else {}
    return TriggerKind(
        id=kind,
        label=data["label"],
        invocation=data["invocation"],
        summary=data["summary"],
        wiring=data["wiring"],
        status=data["status"],
        events=events,
        parser_models=tuple(models.items()),
        moto_extras=tuple(data.get("moto_extras", ())),
        id_words=tuple(data.get("id_words", ())),
        checkov_skips=tuple(data.get("checkov_skips", ())),
        errors_by_design=tuple(data.get("errors_by_design", ())),
        invalid_event_parameters=tuple(data.get("invalid_event_parameters", {}).items()),
        safe_deployments=bool(data.get("safe_deployments", True)),
        closed_to_new_customers=bool(data.get("closed_to_new_customers", False)),
        notice=data.get("notice"),
        business_logic=data.get("business_logic"),
        optional_fields=tuple(data.get("optional_fields", ())),
        fixed_monthly_cost_usd=data.get("fixed_monthly_cost_usd"),
        dev_fixed_monthly_cost_usd=data.get(
            "dev_fixed_monthly_cost_usd", data.get("fixed_monthly_cost_usd")
        ),
        fixed_cost_note=data.get("fixed_cost_note", ""),
        stack_cost=_cost(cost),
        auth_modes=tuple(data.get("auth", ())),
        auth_refusal=data.get("auth_refusal"),
        auth_mode_refusals=tuple(dict(data.get("auth_refusals", {})).items()),
        idempotency=_idempotency(data.get("idempotency")),
    )


def _idempotency(data: dict[str, Any] | None) -> IdempotencyOffer | None:
    if data is None:
        return None
    return IdempotencyOffer(str(data["key"]), str(data["identifies"]), bool(data["default"]))


def _pattern(pattern_id: str, data: dict[str, Any], costs: dict[str, Any]) -> Pattern:
    entry = data["entry_triggers"]
    entries = costs.get("entries", {})
    return Pattern(
        id=pattern_id,
        label=data["label"],
        summary=data["summary"],
        status=data["status"],
        entry_triggers=None if entry == "any" else tuple(entry),
        why=data.get("why", ""),
        functions=tuple(data.get("functions", {})),
        reserved=tuple(data.get("reserved", ())),
        refuses=tuple(data.get("refuses", {}).items()),
        stack_cost=_cost(costs.get("own")),
        stack_shared=_groups(costs.get("shared")),
        entry_stack_costs=tuple((k, _cost(v)) for k, v in entries.items()),
    )


def parse_catalog(data: dict[str, Any]) -> Catalog:
    """Build the typed catalog from its YAML mapping."""
    costs = data.get("stack_costs") or {}
    kind_costs, pattern_costs = costs.get("kinds", {}), costs.get("patterns", {})
    return Catalog(
        triggers=tuple(_trigger(k, v, kind_costs.get(k, {})) for k, v in data["triggers"].items()),
        patterns=tuple(
            _pattern(k, v, pattern_costs.get(k, {})) for k, v in data["patterns"].items()
        ),
        runtimes=tuple(data["runtimes"]),
        architectures=tuple(data["architectures"]),
        invocations=dict(data["invocations"]),
        defaults=Defaults(**data["defaults"]),
        stack_base=_cost(costs.get("base")),
        stack_shared=_groups(costs.get("shared")),
        ci_systems=tuple(data.get("ci_systems", ("github", "none"))),
    )


def catalog_path(root: Path | None = None) -> Path:
    """Where the catalog file of a template tree lives."""
    return (root or template_root()) / "templates" / "catalog.yml"


@cache
def load_catalog() -> Catalog:
    """The catalog of the template bundled with this installation."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: faster
    with catalog_path().open(encoding="utf-8") as handle:
        return parse_catalog(yaml.load(handle, Loader=loader))  # noqa: S506 - a safe loader
