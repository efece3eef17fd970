"""The interactive wizard: a thin view that fills the same answers the flags fill."""

from __future__ import annotations

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
from trigger_scaffold._catalog import Catalog, Pattern, TriggerKind
from trigger_scaffold._errors import TriggerScaffoldError


def _validator(check: Any) -> Any:
    def validate(value: str) -> bool | str:
        try:
            check(value)
        except TriggerScaffoldError as error:
            return str(error)
        return True

    return validate


def kind_choice(kind: TriggerKind, pattern: Pattern | None = None) -> Choice:
    """How a trigger kind is offered: id, invocation type and what it is.

    In a pattern project only the pattern's entry kinds can be picked.
    """
    disabled: str | None = None
    if kind.status == "retired":
        disabled = "shut down by AWS"
    elif not kind.available:
        disabled = "not generated yet"
    elif pattern is not None and not pattern.accepts(kind.id):
        disabled = f"not an entry of {pattern.id}"
    note = " (closed to new AWS customers)" if kind.closed_to_new_customers else ""
    title = f"{kind.id:<16} {kind.invocation:<5}  {kind.summary}{note}"
    return Choice(title=title, value=kind.id, disabled=disabled)


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
        return self.select(message, [Choice(v, value=v) for v in values], default)

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
    choices = [kind_choice(kind, pattern) for kind in catalog.triggers]
    while True:
        prompt = "Which event source triggers the function?"
        if triggers:
            prompt = "Which event source triggers the next function?"
        kind = asker.select(prompt, choices, default=catalog.defaults.trigger)
        name = _ask_name(asker, kind, {t.name: t.kind for t in triggers}, catalog, pattern)
        triggers.append(Trigger(name, kind))
        if not asker.confirm("Add another trigger?", default=False):
            return tuple(triggers)


def _pattern_choice(pattern: Pattern, triggers: tuple[Trigger, ...]) -> Choice:
    """A pattern, offered only when it is generated and takes the triggers already given."""
    disabled: str | None = None
    if not pattern.available:
        disabled = "not generated yet"
    elif any(not pattern.accepts(t.kind) for t in triggers):
        disabled = "does not take " + ", ".join(
            sorted({t.kind for t in triggers if not pattern.accepts(t.kind)})
        )
    return Choice(f"{pattern.id:<20} {pattern.summary}", value=pattern.id, disabled=disabled)


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
    runtime = (
        draft.runtime
        if draft.runtime is not None
        else asker.pick("Python runtime", catalog.runtimes, defaults.runtime)
    )
    architecture = (
        draft.architecture
        if draft.architecture is not None
        else asker.pick("Architecture", catalog.architectures, defaults.architecture)
    )
    return Answers(project_name, triggers, pattern, runtime, architecture)
