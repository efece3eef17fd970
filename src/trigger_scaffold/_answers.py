"""The one answers model that the flags, the wizard and ``copier copy --data`` all fill."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from trigger_scaffold._catalog import Catalog, Pattern
from trigger_scaffold._errors import TriggerScaffoldError

# Kept in step with the validators in copier.yml (a test renders both with the same inputs).
PROJECT_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,28}[a-z0-9])?")
TRIGGER_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?")
PROJECT_NAME_RULE = (
    "start with a letter, use only lowercase letters, digits and single hyphens, "
    "end with a letter or digit, at most 30 characters"
)
TRIGGER_NAME_RULE = (
    "start with a letter, use lowercase letters, digits and single hyphens, at most 20 characters"
)


@dataclass(frozen=True)
class Trigger:
    """One event source of the project: a unique ``name``, a catalog ``kind``.

    ``auth`` says who may call an API trigger (``iam``, ``none``); None for other kinds.
    ``idempotency`` says whether an at-least-once consumer runs each business event once;
    None where the kind does not offer it (or the answer is left to the kind's default).
    """

    name: str
    kind: str
    auth: str | None = None
    idempotency: bool | None = None

    def as_data(self) -> dict[str, str | bool]:
        """The mapping stored in the ``triggers`` answer."""
        data: dict[str, str | bool] = {"name": self.name, "kind": self.kind}
        if self.auth is not None:
            data["auth"] = self.auth
        if self.idempotency is not None:
            data["idempotency"] = self.idempotency
        return data


@dataclass(frozen=True)
class Answers:
    """Everything a project is generated from."""

    project_name: str
    triggers: tuple[Trigger, ...]
    pattern: str = "none"
    runtime: str = "python3.13"
    architecture: str = "arm64"
    ci: str = "github"

    def as_data(self) -> dict[str, Any]:
        """The answers as copier ``data``."""
        return {
            "project_name": self.project_name,
            "triggers": [t.as_data() for t in self.triggers],
            "pattern": self.pattern,
            "runtime": self.runtime,
            "architecture": self.architecture,
            "ci": self.ci,
        }


def _slug_ok(pattern: re.Pattern[str], value: str) -> bool:
    return bool(pattern.fullmatch(value)) and "--" not in value


# DOCS https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
# Bucket names start with the project name, and S3 reserves these prefixes.
RESERVED_PREFIXES = ("sthree", "amzn-s3-demo")


def check_project_name(name: str) -> str:
    """Return ``name`` if it can name a project, else raise a one-line error."""
    if not _slug_ok(PROJECT_NAME_RE, name):
        raise TriggerScaffoldError(f"invalid project name {name!r}: {PROJECT_NAME_RULE}")
    if any(name == p or name.startswith(f"{p}-") for p in RESERVED_PREFIXES):
        raise TriggerScaffoldError(
            f"invalid project name {name!r}: S3 reserves bucket names starting with "
            + " or ".join(f"'{p}-'" for p in RESERVED_PREFIXES)
        )
    return name


def check_trigger_name(name: str) -> str:
    """Return ``name`` if it can name a trigger, else raise a one-line error."""
    if not _slug_ok(TRIGGER_NAME_RE, name):
        raise TriggerScaffoldError(f"invalid trigger name {name!r}: {TRIGGER_NAME_RULE}")
    return name


def check_kind(catalog: Catalog, kind: str) -> str:
    """Return ``kind`` if this template version generates it, else explain why not."""
    item = catalog.trigger(kind)
    if item.status == "retired":
        raise TriggerScaffoldError(item.notice or f"trigger kind {kind!r} was retired by AWS")
    if not item.available:
        ready = ", ".join(t.id for t in catalog.triggers if t.available)
        raise TriggerScaffoldError(
            f"trigger kind {kind!r} is in the catalog but not generated yet; available now: {ready}"
        )
    return kind


def name_key(name: str) -> str:
    """Names must differ even without hyphens: resource ids drop them (orders-2 ~ orders2)."""
    return name.replace("-", "")


def clashing_name(name: str, kind: str, taken: dict[str, str], catalog: Catalog) -> str | None:
    """The trigger in ``taken`` (name -> kind) whose resource ids could equal this one's.

    Ids are the PascalCase name plus a word of the kind (``orders`` makes ``OrdersQueue`` and
    ``OrdersDeadLetterQueue``), so ``orders-dead-letter`` could clash with an sqs trigger
    ``orders``, while ``sqs-2`` or ``s3-batch`` beside ``s3`` cannot.
    """
    for other, other_kind in taken.items():
        if name_key(other) == name_key(name):
            return other
        (short, short_kind), (long, _) = sorted(
            ((name, kind), (other, other_kind)), key=lambda pair: len(pair[0])
        )
        if long.startswith(f"{short}-"):
            word = long[len(short) + 1 :].split("-")[0].capitalize()
            if any(w.startswith(word) for w in catalog.trigger(short_kind).id_words):
                return other
    return None


def free_name(kind: str, taken: dict[str, str], catalog: Catalog) -> str:
    """The kind itself, or ``KIND-2``, ``KIND-3``... when taken."""
    candidate, number = kind, 2
    while clashing_name(candidate, kind, taken, catalog) is not None:
        candidate, number = f"{kind}-{number}", number + 1
    return candidate


def check_name_is_free(name: str, kind: str, taken: dict[str, str], catalog: Catalog) -> None:
    """Refuse a name that is used, or whose resource ids could clash with another trigger's."""
    other = clashing_name(name, kind, taken, catalog)
    if other is None:
        return
    if name_key(other) == name_key(name):
        raise TriggerScaffoldError(
            f"trigger name {name!r} is already used by {other!r}; give each trigger its own "
            "name (names must differ even without their hyphens)"
        )
    raise TriggerScaffoldError(
        f"trigger names {name!r} and {other!r} would give clashing resource ids "
        "(one extends the other by a word); rename one"
    )


def parse_trigger_spec(spec: str, taken: dict[str, str], catalog: Catalog) -> tuple[str, str]:
    """Split ``KIND[:NAME]``; the name defaults to a free one derived from the kind."""
    kind, sep, name = spec.partition(":")
    if sep and not name:
        raise TriggerScaffoldError(f"--trigger {spec!r}: give a name after ':' or leave out ':'")
    if sep:
        return kind, name
    check_kind(catalog, kind)
    return kind, free_name(kind, taken, catalog)


def check_auth(trigger: Trigger, catalog: Catalog) -> None:
    """Refuse an auth answer the trigger's kind does not offer (same words as copier.yml)."""
    if trigger.auth is None:
        return
    kind = catalog.trigger(trigger.kind)
    if not kind.auth_modes:
        why = kind.auth_refusal or "only API triggers do"
        raise TriggerScaffoldError(
            f"trigger {trigger.name!r} ({trigger.kind}) takes no auth answer: {why}"
        )
    refusals = dict(kind.auth_mode_refusals)
    if trigger.auth in refusals:
        raise TriggerScaffoldError(
            f"auth mode {trigger.auth!r} does not apply to trigger {trigger.name!r} "
            f"({trigger.kind}): {refusals[trigger.auth]}"
        )
    if trigger.auth not in kind.auth_modes:
        raise TriggerScaffoldError(
            f"unknown auth mode {trigger.auth!r} for trigger {trigger.name!r}; choose one of: "
            + ", ".join(kind.auth_modes)
        )


def with_default_auth(trigger: Trigger, catalog: Catalog) -> Trigger:
    """The trigger with its kind's default auth mode (the first) when it has none yet."""
    modes = catalog.trigger(trigger.kind).auth_modes
    if trigger.auth is not None or not modes:
        return trigger
    return replace(trigger, auth=modes[0])


def idempotency_kinds(catalog: Catalog) -> list[str]:
    """The kinds whose functions can run each business event once, in catalog order."""
    return [k.id for k in catalog.triggers if k.idempotency is not None]


def check_idempotency(trigger: Trigger, catalog: Catalog) -> None:
    """Refuse an idempotency answer the trigger's kind does not offer (same words as copier.yml)."""
    if trigger.idempotency is None or catalog.trigger(trigger.kind).idempotency is not None:
        return
    raise TriggerScaffoldError(
        f"trigger {trigger.name!r} ({trigger.kind}) takes no idempotency answer: only "
        "at-least-once consumers do (" + ", ".join(idempotency_kinds(catalog)) + ")"
    )


def check_idempotency_fits_pattern(trigger: Trigger, pattern: str) -> None:
    """Idempotency is generated for the functions of projects without a pattern so far."""
    if trigger.idempotency and pattern != "none":
        raise TriggerScaffoldError(
            f"idempotency is generated only for projects without a pattern so far: trigger "
            f"{trigger.name!r} would be an entry of pattern {pattern!r} (answer it off)"
        )


def with_default_idempotency(trigger: Trigger, catalog: Catalog, pattern: str) -> Trigger:
    """The trigger with its kind's idempotency default when unanswered (no pattern only)."""
    offer = catalog.trigger(trigger.kind).idempotency
    if trigger.idempotency is not None or offer is None or pattern != "none":
        return trigger
    return replace(trigger, idempotency=offer.default)


IDEMPOTENCY_VALUES = {"on": True, "off": False}


def apply_idempotency_specs(
    triggers: tuple[Trigger, ...], specs: list[str], catalog: Catalog
) -> tuple[Trigger, ...]:
    """Apply ``--idempotency NAME=on|off`` values to the triggers they name, checking each."""
    given: dict[str, bool] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name or value not in IDEMPOTENCY_VALUES:
            raise TriggerScaffoldError(
                f"--idempotency {spec!r}: write NAME=on or NAME=off, e.g. --idempotency orders=off"
            )
        if name not in {t.name for t in triggers}:
            raise TriggerScaffoldError(
                f"--idempotency {spec!r}: no trigger named {name!r}; triggers: "
                + ", ".join(t.name for t in triggers)
            )
        given[name] = IDEMPOTENCY_VALUES[value]
    result = tuple(
        replace(t, idempotency=given[t.name]) if t.name in given else t for t in triggers
    )
    for trigger in result:
        check_idempotency(trigger, catalog)
    return result


def apply_auth_specs(
    triggers: tuple[Trigger, ...], specs: list[str], catalog: Catalog
) -> tuple[Trigger, ...]:
    """Apply ``--auth NAME=MODE`` values to the triggers they name, checking each."""
    given: dict[str, str] = {}
    for spec in specs:
        name, sep, mode = spec.partition("=")
        if not sep or not name or not mode:
            raise TriggerScaffoldError(f"--auth {spec!r}: write NAME=MODE, e.g. --auth api=iam")
        if name not in {t.name for t in triggers}:
            raise TriggerScaffoldError(
                f"--auth {spec!r}: no trigger named {name!r}; triggers: "
                + ", ".join(t.name for t in triggers)
            )
        given[name] = mode
    result = tuple(replace(t, auth=given[t.name]) if t.name in given else t for t in triggers)
    for trigger in result:
        check_auth(trigger, catalog)
    return result


def check_fits_pattern(trigger: Trigger, pattern: Pattern) -> None:
    """Refuse a trigger that the pattern cannot take as an entry, or that takes a name it uses."""
    refusal = pattern.refusal(trigger.kind)
    if refusal is not None:
        raise TriggerScaffoldError(refusal)
    reserved = pattern.reserving(trigger.name)
    if reserved is not None:
        raise TriggerScaffoldError(
            f"trigger name {trigger.name!r} is reserved by pattern {pattern.id!r} (its resources "
            f"use {reserved!r}); choose another name"
        )


def validate(answers: Answers, catalog: Catalog) -> Answers:
    """Check every answer against the catalog; the first problem is raised as one line."""
    check_project_name(answers.project_name)
    if not answers.triggers:
        raise TriggerScaffoldError("a project needs at least one trigger (--trigger KIND[:NAME])")
    pattern = catalog.pattern(answers.pattern)
    if not pattern.available:
        raise TriggerScaffoldError(
            f"pattern {pattern.id!r} is in the catalog but not generated yet; available now: "
            + ", ".join(p.id for p in catalog.patterns if p.available)
        )
    seen: dict[str, str] = {}
    for trigger in answers.triggers:
        check_kind(catalog, trigger.kind)
        check_trigger_name(trigger.name)
        check_name_is_free(trigger.name, trigger.kind, seen, catalog)
        seen[trigger.name] = trigger.kind
        check_fits_pattern(trigger, pattern)
        check_auth(trigger, catalog)
        check_idempotency(trigger, catalog)
        check_idempotency_fits_pattern(trigger, pattern.id)
    if answers.runtime not in catalog.runtimes:
        raise TriggerScaffoldError(
            f"unknown runtime {answers.runtime!r}; choose one of: {', '.join(catalog.runtimes)}"
        )
    if answers.architecture not in catalog.architectures:
        raise TriggerScaffoldError(
            f"unknown architecture {answers.architecture!r}; choose one of: "
            + ", ".join(catalog.architectures)
        )
    if answers.ci not in catalog.ci_systems:
        raise TriggerScaffoldError(
            f"unknown ci {answers.ci!r}; choose one of: {', '.join(catalog.ci_systems)}"
        )
    return answers


@dataclass(frozen=True)
class Draft:
    """What the command line said; the wizard or the defaults fill in the rest."""

    project_name: str | None = None
    triggers: tuple[Trigger, ...] = ()
    pattern: str | None = None
    runtime: str | None = None
    architecture: str | None = None
    ci: str | None = None

    def complete(self, catalog: Catalog, default_project_name: str) -> Answers:
        """Fill every unanswered question with its default."""
        defaults = catalog.defaults
        triggers = self.triggers or (Trigger(defaults.trigger, defaults.trigger),)
        pattern = _given(self.pattern, defaults.pattern)
        return Answers(
            project_name=_given(self.project_name, default_project_name),
            triggers=tuple(
                with_default_idempotency(with_default_auth(t, catalog), catalog, pattern)
                for t in triggers
            ),
            pattern=pattern,
            runtime=_given(self.runtime, defaults.runtime),
            architecture=_given(self.architecture, defaults.architecture),
            ci=_given(self.ci, defaults.ci),
        )


def _given(value: str | None, default: str) -> str:
    """A command-line answer, even an empty (so invalid) one, beats the default."""
    return default if value is None else value


def triggers_from_specs(specs: list[str], catalog: Catalog) -> tuple[Trigger, ...]:
    """Turn ``--trigger KIND[:NAME]`` values into triggers, checking kinds and names."""
    triggers: list[Trigger] = []
    for spec in specs:
        kind, name = parse_trigger_spec(spec, {t.name: t.kind for t in triggers}, catalog)
        check_kind(catalog, kind)
        triggers.append(Trigger(check_trigger_name(name), kind))
    return tuple(triggers)
