"""The interactive wizard: a thin view that fills the same answers the flags fill."""

from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import replace
from typing import Any

import questionary
from questionary import Choice

from trigger_scaffold._answers import (
    Answers,
    Draft,
    Trigger,
    check_fits_pattern,
    check_name_is_free,
    check_project_name,
    check_trigger_name,
    free_name,
)
from trigger_scaffold._catalog import Catalog, Pattern, TriggerKind, load_catalog
from trigger_scaffold._errors import TriggerScaffoldError


def _validator(check: Any) -> Any:
    def validate(value: str) -> bool | str:
        try:
            check(value)
        except TriggerScaffoldError as error:
            return str(error)
        return True

    return validate


# questionary draws a disabled choice as "- title (reason)": enabled titles get the same
# two columns so the ids of both line up.
_DISABLED_PREFIX = "  "
# The description under the list is "  Description: ..." and is not wrapped by the prompt.
_DESCRIPTION_LABEL = len("  Description: ")


def _width() -> int:
    return max(60, shutil.get_terminal_size(fallback=(80, 24)).columns - 1)


def describe(*paragraphs: str) -> str:
    """Text shown under the list for the highlighted choice, wrapped to the terminal."""
    width = _width() - _DESCRIPTION_LABEL
    lines = [line for text in paragraphs for line in textwrap.wrap(text, width)]
    return ("\n" + " " * _DESCRIPTION_LABEL).join(lines)


def _choice(title: str, value: str, disabled: str | None, description: str) -> Choice:
    shown = title if disabled else _DISABLED_PREFIX + title
    return Choice(title=shown, value=value, disabled=disabled, description=description)


def kind_choice(
    kind: TriggerKind, pattern: Pattern | None = None, *, catalog: Catalog | None = None
) -> Choice:
    """How a trigger kind is offered: id, invocation type and source on one short line.

    What it builds and how Lambda invokes it show under the list while it is highlighted.
    In a pattern project only the pattern's entry kinds can be picked.
    """
    disabled: str | None = None
    if kind.status == "retired":
        disabled = "shut down by AWS"
    elif not kind.available:
        disabled = "not generated yet"
    elif pattern is not None and not pattern.accepts(kind.id):
        disabled = "not an entry"
    note = " Closed to new AWS customers." if kind.closed_to_new_customers else ""
    catalog = catalog or load_catalog()
    # One space past the longest id, so every id and invocation type starts in its column.
    width = max(len(k.id) for k in catalog.triggers) + 1
    return _choice(
        f"{kind.id:<{width}}{kind.invocation:<7}{kind.label}",
        kind.id,
        disabled,
        describe(
            kind.summary + note,
            f"{kind.invocation}: {catalog.invocations[kind.invocation]}",
        ),
    )


def runtime_choices(catalog: Catalog) -> list[Choice]:
    """Runtimes from oldest to newest, the default marked and explained."""

    def version(runtime: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", runtime))

    default = catalog.defaults.runtime
    newest = max(catalog.runtimes, key=version)
    why = (
        f"The default: Lambda supports it as long as {newest}, and more libraries ship "
        "wheels for it."
        if default != newest
        else "The default: the newest Python that Lambda runs."
    )
    return [
        _choice(
            f"{runtime}{'  (default)' if runtime == default else ''}",
            runtime,
            None,
            describe(
                f"Lambda runs the functions on {runtime}; tests and tools run on your own Python.",
                why if runtime == default else "",
            ),
        )
        for runtime in sorted(catalog.runtimes, key=version)
    ]


class _Asker:
    """Creates questionary prompts bound to one input/output (a terminal, or a test pipe)."""

    def __init__(self, io: dict[str, Any]):
        self.io = io

    def text(self, message: str, default: str, check: Any) -> str:
        answer: str = questionary.text(
            message, default=default, validate=_validator(check), **self.io
        ).unsafe_ask()
        return answer.strip()

    def select(self, message: str, choices: list[Choice], default: str) -> str:
        answer: str = questionary.select(
            message, choices=choices, default=default, **self.io
        ).unsafe_ask()
        return answer

    def pick(self, message: str, values: tuple[str, ...], default: str) -> str:
        """Select one of plain values."""
        return self.select(message, [_choice(v, v, None, "") for v in values], default)

    def confirm(self, message: str, default: bool) -> bool:
        answer: bool = questionary.confirm(message, default=default, **self.io).unsafe_ask()
        return answer


def _ask_name(
    asker: _Asker, kind: str, taken: dict[str, str], catalog: Catalog, pattern: Pattern | None
) -> str:
    def check_name(name: str) -> None:
        check_trigger_name(name)
        check_name_is_free(name, kind, taken, catalog)
        if pattern is not None:
            check_fits_pattern(Trigger(name, kind), pattern)

    return asker.text("Trigger name", free_name(kind, taken, catalog), check_name)


def ask_trigger_name(
    kind: str,
    taken: dict[str, str],
    catalog: Catalog,
    io: dict[str, Any] | None = None,
    pattern: Pattern | None = None,
) -> str:
    """Ask for the name of a trigger added to a project whose triggers are ``taken``."""
    return _ask_name(_Asker(io or {}), kind, taken, catalog, pattern)


def _ask_triggers(asker: _Asker, catalog: Catalog, pattern: Pattern) -> tuple[Trigger, ...]:
    triggers: list[Trigger] = []
    choices = [kind_choice(kind, pattern, catalog=catalog) for kind in catalog.triggers]
    while True:
        prompt = "Which event source triggers the function?"
        if triggers:
            prompt = "Which event source triggers the next function?"
        kind = asker.select(prompt, choices, default=catalog.defaults.trigger)
        name = _ask_name(asker, kind, {t.name: t.kind for t in triggers}, catalog, pattern)
        triggers.append(Trigger(name, kind))
        if not asker.confirm("Add another trigger?", default=False):
            return tuple(triggers)


_AUTH_DESCRIPTIONS = {
    "iam": "Callers sign requests with AWS credentials (SigV4); API Gateway (or Lambda, for a "
    "function URL) refuses unsigned ones with 403 before the function runs. For services and "
    "scripts in AWS accounts.",
    "jwt": "Callers send a token (JWT) of the stack's new Cognito user pool, or of an existing "
    "issuer given as a parameter; API Gateway refuses others with 401. For users and browser apps.",
    "api-key": "Callers send a usage plan's key (x-api-key), metered by quota and throttle. "
    "Identifies callers; it is not authentication.",
    "none": "Public: anyone with the URL can call it. Throttling is its only guard.",
}
# A load balancer verifies tokens itself and has no throttle: its words differ.
_KIND_AUTH_DESCRIPTIONS = {
    "alb": {
        "jwt": "Callers send a token (JWT) of the stack's new Cognito user pool, or of an existing "
        "issuer given as parameters; the load balancer refuses others with 401.",
        "none": "Open: whoever reaches the load balancer (its Scheme and IngressCidr) can call it.",
    },
}


def _ask_auth(
    asker: _Asker, triggers: tuple[Trigger, ...], catalog: Catalog
) -> tuple[Trigger, ...]:
    """Ask who may call each API trigger that the flags left open."""
    result: list[Trigger] = []
    for trigger in triggers:
        modes = catalog.trigger(trigger.kind).auth_modes
        if trigger.auth is not None or not modes:
            result.append(trigger)
            continue
        choices = [
            _choice(
                f"{mode}{'  (default)' if mode == modes[0] else ''}",
                mode,
                None,
                describe(
                    _KIND_AUTH_DESCRIPTIONS.get(trigger.kind, {}).get(mode)
                    or _AUTH_DESCRIPTIONS.get(mode, "")
                ),
            )
            for mode in modes
        ]
        mode = asker.select(f"Who may call the '{trigger.name}' API?", choices, modes[0])
        result.append(Trigger(trigger.name, trigger.kind, mode))
    return tuple(result)


def _ask_idempotency(
    asker: _Asker, triggers: tuple[Trigger, ...], catalog: Catalog, pattern: str
) -> tuple[Trigger, ...]:
    """Ask each at-least-once consumer whether it runs each business event once."""
    if pattern != "none":
        return triggers
    result: list[Trigger] = []
    for trigger in triggers:
        offer = catalog.trigger(trigger.kind).idempotency
        if trigger.idempotency is not None or offer is None:
            result.append(trigger)
            continue
        on = asker.confirm(
            f"Should '{trigger.name}' run each business event once, keyed on {offer.identifies}? "
            "(Powertools Idempotency on a DynamoDB table)",
            default=offer.default,
        )
        result.append(replace(trigger, idempotency=on))
    return tuple(result)


def _pattern_choice(pattern: Pattern, triggers: tuple[Trigger, ...]) -> Choice:
    """A pattern, offered only when it is generated and takes the triggers already given."""
    disabled: str | None = None
    if not pattern.available:
        disabled = "not generated yet"
    elif any(not pattern.accepts(t.kind) for t in triggers):
        disabled = "does not take " + ", ".join(
            sorted({t.kind for t in triggers if not pattern.accepts(t.kind)})
        )
    entries = ", ".join(pattern.entry_triggers or ("any kind",))
    return _choice(
        f"{pattern.id:<20}{pattern.label}",
        pattern.id,
        disabled,
        describe(pattern.summary, f"Entry triggers: {entries}."),
    )


def ask(
    draft: Draft,
    catalog: Catalog,
    *,
    default_project_name: str,
    io: dict[str, Any] | None = None,
) -> Answers:
    """Ask what ``draft`` leaves open and return complete answers.

    ``io`` passes ``input``/``output`` to every prompt (tests use a prompt_toolkit pipe).
    Ctrl-C raises KeyboardInterrupt before anything is written.
    """
    asker = _Asker(io or {})
    defaults = catalog.defaults
    project_name = (
        draft.project_name
        if draft.project_name is not None
        else asker.text("Project name", default_project_name, check_project_name)
    )
    pattern = (
        draft.pattern
        if draft.pattern is not None
        else asker.select(
            "Architecture pattern",
            [_pattern_choice(p, draft.triggers) for p in catalog.patterns],
            default=defaults.pattern,
        )
    )
    triggers = draft.triggers or _ask_triggers(asker, catalog, catalog.pattern(pattern))
    triggers = _ask_auth(asker, triggers, catalog)
    triggers = _ask_idempotency(asker, triggers, catalog, pattern)
    runtime = (
        draft.runtime
        if draft.runtime is not None
        else asker.select("Python runtime", runtime_choices(catalog), defaults.runtime)
    )
    architecture = (
        draft.architecture
        if draft.architecture is not None
        else asker.pick("Architecture", catalog.architectures, defaults.architecture)
    )
    ci = (
        draft.ci
        if draft.ci is not None
        else asker.pick("Delivery pipeline", catalog.ci_systems, defaults.ci)
    )
    return Answers(project_name, triggers, pattern, runtime, architecture, ci)
