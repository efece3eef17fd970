"""The ``trigger-scaffold`` command line."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from trigger_scaffold import __version__
from trigger_scaffold._answers import (
    Answers,
    Draft,
    apply_auth_specs,
    apply_idempotency_specs,
    check_project_name,
    triggers_from_specs,
    validate,
)
from trigger_scaffold._catalog import Catalog, load_catalog
from trigger_scaffold._console import Console
from trigger_scaffold._errors import TriggerScaffoldError, UsageError
from trigger_scaffold._quotas import QUOTAS, check_quotas
from trigger_scaffold._steps import after_change, after_new
from trigger_scaffold._steps import render as render_steps

PROG = "trigger-scaffold"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where to read more."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _idempotency_kinds(catalog: Catalog, *, default: bool) -> list[str]:
    return [
        t.id
        for t in catalog.triggers
        if t.available and t.idempotency is not None and t.idempotency.default == default
    ]


def _build_parser(catalog: Catalog) -> argparse.ArgumentParser:
    kinds = ", ".join(t.id for t in catalog.triggers if t.available)
    parser = _Parser(
        prog=PROG,
        description="Generate ready-to-deploy AWS SAM projects for Lambda functions and their "
        "triggers.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    new = commands.add_parser(
        "new",
        help="start a service (asks on a terminal, flags answer the questions)",
        description="Generate a new SAM project in DEST. On a terminal, a wizard asks what the "
        "flags did not say; with --no-input the defaults fill the rest.",
    )
    new.add_argument("dest", metavar="DEST", help="directory to create (must be new or empty)")
    new.add_argument(
        "--trigger",
        dest="triggers",
        metavar="KIND[:NAME]",
        action="append",
        default=[],
        help=f"add a trigger; repeat for several (NAME defaults to KIND). Kinds: {kinds}",
    )
    new.add_argument(
        "--auth",
        dest="auth",
        metavar="NAME=MODE",
        action="append",
        default=[],
        help="who may call API trigger NAME: iam (SigV4-signed requests, the default), jwt "
        "(tokens of a Cognito user pool or another issuer), api-key (REST api only: a usage "
        "plan's key, identification not authentication) or none (public); repeat per trigger",
    )
    new.add_argument(
        "--idempotency",
        dest="idempotency",
        metavar="NAME=on|off",
        action="append",
        default=[],
        help="whether at-least-once consumer NAME runs each business event once (Powertools "
        "Idempotency on the project's DynamoDB table); default on for "
        + ", ".join(_idempotency_kinds(catalog, default=True))
        + ", off for "
        + ", ".join(_idempotency_kinds(catalog, default=False))
        + " (projects without a pattern); repeat per trigger",
    )
    new.add_argument(
        "--pattern",
        help="architecture pattern: "
        + ", ".join(p.id for p in catalog.patterns if p.available)
        + f" (default {catalog.defaults.pattern}); every trigger is an entry of it, "
        "`list` shows which kinds each pattern takes",
    )
    new.add_argument("--project-name", help="project name (default: DEST's folder name)")
    new.add_argument(
        "--runtime",
        help=f"{', '.join(catalog.runtimes)} (default {catalog.defaults.runtime})",
    )
    new.add_argument(
        "--architecture",
        help=f"{', '.join(catalog.architectures)} (default {catalog.defaults.architecture})",
    )
    new.add_argument(
        "--ci",
        help=f"delivery pipeline: {', '.join(catalog.ci_systems)} (default {catalog.defaults.ci})",
    )
    new.add_argument(
        "--no-input", action="store_true", help="ask nothing; defaults fill unanswered questions"
    )
    new.add_argument(
        "--template",
        metavar="SRC",
        help="copier template to use (path or git URL; default: the one bundled with this version)",
    )
    new.add_argument("--vcs-ref", metavar="REF", help="template git tag, branch or commit")
    new.add_argument("-q", "--quiet", action="store_true", help="print errors only")

    add = commands.add_parser(
        "add-trigger",
        help="add an event source to the project (a copier update with one more trigger)",
        description="Add a trigger's function, wiring, sample events, tests and README section "
        "to the project in DIR, at the project's current template version. Needs a clean git "
        "working tree; commits nothing.",
    )
    add.add_argument("kind", metavar="KIND", help=f"trigger kind: {kinds}")
    add.add_argument("--name", help="trigger name (default: KIND, or KIND-2... when taken)")
    add.add_argument("-C", dest="directory", metavar="DIR", default=".", help="project directory")
    add.add_argument("-q", "--quiet", action="store_true", help="print errors only")

    upd = commands.add_parser(
        "update",
        help="merge template improvements into the project (three-way, keeps your edits)",
        description="Take template improvements with copier's three-way merge. Needs a clean "
        "git working tree; commits nothing; conflicts are listed and exit with code 3.",
    )
    upd.add_argument("-C", dest="directory", metavar="DIR", default=".", help="project directory")
    upd.add_argument("--vcs-ref", metavar="REF", help="template git tag, branch or commit")
    upd.add_argument("-q", "--quiet", action="store_true", help="print errors only")

    listing = commands.add_parser(
        "list",
        help="list trigger kinds and patterns",
        description="List every trigger kind with its invocation type, and the patterns.",
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _gather(args: argparse.Namespace, catalog: Catalog, dest: Path) -> Answers:
    draft = Draft(
        project_name=args.project_name,
        triggers=apply_idempotency_specs(
            apply_auth_specs(triggers_from_specs(args.triggers, catalog), args.auth, catalog),
            args.idempotency,
            catalog,
        ),
        pattern=args.pattern,
        runtime=args.runtime,
        architecture=args.architecture,
        ci=args.ci,
    )
    if not args.no_input and _interactive():
        from trigger_scaffold._wizard import ask

        return ask(draft, catalog, default_project_name=dest.name)
    if not args.no_input and not draft.triggers:
        raise UsageError(
            "no terminal to ask on: pass --trigger KIND[:NAME] (repeatable), "
            "or --no-input to take the defaults"
        )
    answers = draft.complete(catalog, default_project_name=dest.name)
    if args.project_name is None:
        try:
            check_project_name(answers.project_name)
        except TriggerScaffoldError as error:
            raise TriggerScaffoldError(
                f"{error} (the name of DEST's folder); pass --project-name NAME"
            ) from error
    return answers


def _cmd_new(args: argparse.Namespace, catalog: Catalog, console: Console) -> int:
    from trigger_scaffold._render import check_destination, render_new
    from trigger_scaffold._template import ensure_template_repo

    dest = Path(args.dest).resolve()
    check_destination(dest)
    answers = validate(_gather(args, catalog, dest), catalog)
    check_quotas(catalog, answers.pattern, [t.kind for t in answers.triggers])
    if args.template:
        src, vcs_ref = args.template, args.vcs_ref
    else:
        console.step("Preparing the bundled template")
        src, vcs_ref = str(ensure_template_repo()), args.vcs_ref or "HEAD"
    kinds = ", ".join(f"{t.name} ({t.kind})" for t in answers.triggers)
    console.step(f"Rendering {answers.project_name} with {kinds}")
    outer = render_new(answers, dest, src=src, vcs_ref=vcs_ref)
    console.ok(f"Created {args.dest}")
    has_git = shutil.which("git") is not None
    if outer is not None:
        console.hint(
            f"It sits inside the git repository {outer}, so it was not made a repository "
            "of its own; add-trigger and update work from that one."
        )
    elif not has_git:
        console.hint("git was not found: add-trigger and update need the project in git.")
    steps = after_new(args.dest, outer_repo=outer, has_git=has_git)
    console.hint(render_steps(steps))
    return 0


def _next_steps(project: Any, console: Console, message: str) -> None:
    from trigger_scaffold._lifecycle import changes, in_larger_repository

    for line in changes(project):
        console.hint(f"  {line}")
    steps = after_change(
        project.root, Path.cwd(), message=message, monorepo=in_larger_repository(project)
    )
    console.hint("Review the changes, run the tests, then commit.")
    console.hint(render_steps(steps))


def _split_kind(kind: str, name: str | None) -> tuple[str, str | None]:
    """``add-trigger`` takes ``KIND:NAME`` as ``new --trigger`` does, or ``KIND --name NAME``."""
    kind, sep, given = kind.partition(":")
    if not sep:
        return kind, name
    if not given:
        raise TriggerScaffoldError(f"{kind}: give a name after ':' or leave out ':'")
    if name is not None and name != given:
        raise TriggerScaffoldError(f"two names given ({given!r} and --name {name!r}); give one")
    return kind, given


def _cmd_add_trigger(args: argparse.Namespace, catalog: Catalog, console: Console) -> int:
    from trigger_scaffold._lifecycle import add_trigger, check_clean_git, find_project, plan_trigger

    project = find_project(Path(args.directory))
    kind, name = _split_kind(args.kind, args.name)
    if name is None and _interactive():
        from trigger_scaffold._wizard import ask_trigger_name

        plan_trigger(project, kind, None, catalog)  # refuse a bad kind before asking
        name = ask_trigger_name(
            kind,
            {t.name: t.kind for t in project.triggers},
            catalog,
            pattern=catalog.pattern(str(project.answers.get("pattern", "none"))),
        )
    trigger = plan_trigger(project, kind, name, catalog)
    check_clean_git(project)
    console.step(
        f"Adding {trigger.kind} trigger {trigger.name!r} to {project.root} "
        f"(template {project.commit})"
    )
    add_trigger(project, trigger, quiet=console.quiet)
    console.ok(f"Added trigger {trigger.name!r} ({trigger.kind})")
    _next_steps(project, console, f"Add {trigger.kind} trigger {trigger.name}")
    return 0


def _cmd_update(args: argparse.Namespace, catalog: Catalog, console: Console) -> int:
    from trigger_scaffold._lifecycle import (
        business_logic_findings,
        changes,
        check_clean_git,
        find_project,
        update,
    )

    project = find_project(Path(args.directory))
    check_clean_git(project)
    console.step(f"Updating {project.root} from template {project.commit}")
    adopted = update(project, args.vcs_ref, quiet=console.quiet)
    after = find_project(project.root)
    if after.commit == project.commit and not changes(after):
        console.ok(f"Already at the newest template ({after.commit}); nothing changed")
        return 0
    console.ok(f"Updated from template {project.commit} to {after.commit}")
    replaced = [path for path, done in adopted.items() if done == "replaced"]
    removed = [path for path, done in adopted.items() if done == "removed"]
    if replaced:
        console.hint(
            "Moved to the handler.py/app.py layout (unchanged since generated): "
            + ", ".join(replaced)
        )
    if removed:
        console.hint(
            "Removed the old generated tests of an entry point (unchanged since generated; "
            "tests/contract/ holds their successors): " + ", ".join(removed)
        )
    for finding in business_logic_findings(after):
        console.hint(f"Note: {finding}")
    _next_steps(after, console, f"Update to template {after.commit}")
    return 0


def _cmd_list(args: argparse.Namespace, catalog: Catalog, console: Console) -> int:
    if args.json:
        data = {
            "triggers": [asdict(t) for t in catalog.triggers],
            "patterns": [asdict(p) for p in catalog.patterns],
            "stack": {
                "base": asdict(catalog.stack_base),
                "shared": [asdict(group) for group in catalog.stack_shared],
                "quotas": {field: limit for field, limit, _ in QUOTAS},
            },
        }
        console.print(json.dumps(data, indent=2))
        return 0
    console.print("Trigger kinds (KIND for --trigger):")
    width = max(len(t.id) for t in catalog.triggers)
    for item in catalog.triggers:
        notes = []
        if item.status == "retired":
            notes.append("RETIRED")
        elif not item.available:
            notes.append("not generated yet")
        if item.closed_to_new_customers:
            notes.append("closed to new AWS customers")
        note = f" [{'; '.join(notes)}]" if notes else ""
        cost = f"{item.stack_cost.resources:>3} res" if item.stack_cost.resources else " " * 7
        console.print(f"  {item.id:<{width}}  {item.invocation:<5}  {cost}  {item.label}{note}")
    console.print()
    console.print(
        f"res: CloudFormation resources per trigger after the SAM transform; a stack holds "
        f"{QUOTAS[0][1]} (`list --json` has outputs, parameters and bytes too)."
    )
    console.print()
    console.print("Invocation types:")
    for name, text in catalog.invocations.items():
        console.print(f"  {name:<5}  {text}")
    console.print()
    console.print("Patterns (for --pattern):")
    width = max(len(p.id) for p in catalog.patterns)
    for pattern in catalog.patterns:
        note = "" if pattern.available else " [not generated yet]"
        console.print(f"  {pattern.id:<{width}}  {pattern.summary}{note}")
        if pattern.id != catalog.defaults.pattern:
            entries = ", ".join(pattern.entry_triggers or ("any kind",))
            refused = "".join(f" except {kind}" for kind, _ in pattern.refuses)
            console.print(f"  {'':<{width}}  entry triggers: {entries}{refused}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    console = Console()
    try:
        catalog = load_catalog()
        parser = _build_parser(catalog)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help, --version and usage errors: already printed
            return exit_.code if isinstance(exit_.code, int) else 0
        if args.command is None:
            parser.print_help()
            return 2
        console = Console(quiet=getattr(args, "quiet", False))
        handlers = {
            "new": _cmd_new,
            "add-trigger": _cmd_add_trigger,
            "update": _cmd_update,
            "list": _cmd_list,
        }
        return handlers[args.command](args, catalog, console)
    except TriggerScaffoldError as error:
        console.error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        console.error("interrupted; nothing was written")
        return 130
    except Exception as error:
        if os.environ.get("TRIGGER_SCAFFOLD_DEBUG"):
            raise
        console.error(
            f"unexpected {type(error).__name__}: {error} "
            "(set TRIGGER_SCAFFOLD_DEBUG=1 for a traceback, and please report it)"
        )
        return 1
