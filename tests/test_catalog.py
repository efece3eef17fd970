"""The catalog's invariants: every kind is complete, and everything derived from it agrees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from aws_lambda_powertools.utilities.parser import models

from trigger_scaffold import load_catalog
from trigger_scaffold._docs import kinds_table
from trigger_scaffold._template import template_root

ROOT = template_root()
KINDS_DIR = ROOT / "templates" / "kinds"
CATALOG = load_catalog()
PARTIALS = (
    "resources.yaml.jinja",
    "outputs.yaml.jinja",
    "handler.py.jinja",
    "app.py.jinja",
    "test.py.jinja",
    "test_app.py.jinja",
    "readme.md.jinja",
    "diagram.mmd.jinja",
)
# The trigger table of the product design, in its order.
DESIGN_IDS = [
    "api",
    "http-api",
    "function-url",
    "alb",
    "cloudfront",
    "cognito",
    "alexa",
    "firehose",
    "s3-batch",
    "connect",
    "lex",
    "secrets-rotation",
    "bedrock-agent",
    "s3",
    "sns",
    "ses",
    "eventbridge",
    "schedule",
    "cloudformation",
    "cloudwatch-logs",
    "codepipeline",
    "codecommit",
    "config",
    "iot",
    "iot-events",
    "sqs",
    "sqs-fifo",
    "dynamodb",
    "kinesis",
]
DESIGN_PATTERNS = [
    "none",
    "simple-web-service",
    "fan-out-fan-in",
    "pub-sub",
    "strangler",
    "aggregator",
]


def _copier_config() -> dict[str, object]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!include", lambda loader, node: None)
    data: dict[str, object] = yaml.load((ROOT / "copier.yml").read_text(), Loader=Loader)
    return data


def test_catalog_holds_every_design_trigger_once() -> None:
    ids = [k.id for k in CATALOG.triggers]
    assert ids == DESIGN_IDS
    assert len(set(ids)) == len(DESIGN_IDS)


def test_catalog_holds_every_design_pattern() -> None:
    assert [p.id for p in CATALOG.patterns] == DESIGN_PATTERNS


def test_invocation_types_are_described() -> None:
    assert set(CATALOG.invocations) == {"sync", "async", "poll"}
    assert {k.invocation for k in CATALOG.triggers} <= set(CATALOG.invocations)


@pytest.mark.parametrize("kind", [k for k in CATALOG.triggers if k.available], ids=lambda k: k.id)
def test_available_kind_is_complete(kind: object) -> None:
    from trigger_scaffold import TriggerKind

    assert isinstance(kind, TriggerKind)
    folder = KINDS_DIR / kind.id
    missing = [p for p in PARTIALS if not (folder / p).is_file()]
    assert not missing, f"{kind.id} lacks partials: {missing}"
    assert kind.events, f"{kind.id} lists no sample events"
    for stem in kind.events:
        assert (folder / "events" / f"{stem}.json").is_file(), f"{kind.id} lacks events/{stem}.json"
    for stem, model in kind.parser_models:
        assert stem in kind.events, f"{kind.id}: parser model for unknown event {stem}"
        assert hasattr(models, model), f"{model} is no Powertools parser model"


# A function unit renders each of its four files from the first of its folders that has it,
# so a folder that brings its own entry point must bring the other three: a missing one
# would fall back to the kind's, which imports other names.
FUNCTION_FILES = {"handler.py.jinja", "app.py.jinja", "test.py.jinja", "test_app.py.jinja"}


def test_every_function_folder_brings_all_four_files() -> None:
    folders = {
        p.parent
        for name in FUNCTION_FILES
        for p in (ROOT / "templates").rglob(name)
        if "project" not in p.relative_to(ROOT / "templates").parts[:1]
    }
    incomplete = {
        folder.relative_to(ROOT).as_posix(): sorted(
            name for name in FUNCTION_FILES if not (folder / name).is_file()
        )
        for folder in folders
    }
    assert {folder: lacks for folder, lacks in incomplete.items() if lacks} == {}


OPTIONAL_PARTIALS = {
    "parameters.yaml.jinja",
    "rules.yaml.jinja",
    "requirements.txt.jinja",
    "conditions.yaml.jinja",
    "samconfig.toml.jinja",
    "role.yaml.jinja",
}


@pytest.mark.parametrize("kind", [k for k in CATALOG.triggers if k.available], ids=lambda k: k.id)
def test_every_kind_states_its_fixed_monthly_cost(kind: object) -> None:
    from trigger_scaffold import TriggerKind

    assert isinstance(kind, TriggerKind)
    assert isinstance(kind.fixed_monthly_cost_usd, int | float), kind.id
    assert isinstance(kind.dev_fixed_monthly_cost_usd, int | float), kind.id
    assert kind.fixed_cost_note, f"{kind.id} does not say what is billed"


@pytest.mark.parametrize("kind", [k for k in CATALOG.triggers if k.available], ids=lambda k: k.id)
def test_kind_folder_holds_only_known_files(kind: object) -> None:
    from trigger_scaffold import TriggerKind

    assert isinstance(kind, TriggerKind)
    folder = KINDS_DIR / kind.id
    files = {p.name for p in folder.iterdir() if p.is_file()}
    assert files <= set(PARTIALS) | OPTIONAL_PARTIALS, f"{kind.id}: unexpected {files}"
    stems = {p.stem for p in (folder / "events").iterdir()}
    assert stems == set(kind.events), f"{kind.id}: event files and catalog events differ"


def test_kind_folders_belong_to_available_kinds() -> None:
    available = {k.id for k in CATALOG.triggers if k.available}
    assert {p.name for p in KINDS_DIR.iterdir() if p.is_dir()} == available


def test_retired_and_closed_kinds_say_so() -> None:
    retired = [k for k in CATALOG.triggers if k.status == "retired"]
    assert [k.id for k in retired] == ["iot-events"]
    assert retired[0].notice
    assert "'iot'" in retired[0].notice
    assert [k.id for k in CATALOG.triggers if k.closed_to_new_customers] == ["codecommit"]


def test_patterns_name_only_known_kinds() -> None:
    ids = {k.id for k in CATALOG.triggers}
    for pattern in CATALOG.patterns:
        assert set(pattern.entry_triggers or ()) <= ids, pattern.id


def test_defaults_are_valid_choices() -> None:
    d = CATALOG.defaults
    assert d.runtime in CATALOG.runtimes
    assert d.architecture in CATALOG.architectures
    assert CATALOG.pattern(d.pattern).available
    assert CATALOG.trigger(d.trigger).available
    assert d.runtime == "python3.13"
    assert d.architecture == "arm64"
    assert d.trigger == "api"


def test_copier_yml_agrees_with_catalog() -> None:
    config = _copier_config()
    questions = {k: v for k, v in config.items() if isinstance(v, dict)}
    assert questions["runtime"]["choices"] == list(CATALOG.runtimes)
    assert questions["runtime"]["default"] == CATALOG.defaults.runtime
    assert questions["architecture"]["choices"] == list(CATALOG.architectures)
    assert questions["architecture"]["default"] == CATALOG.defaults.architecture
    assert questions["ci"]["choices"] == list(CATALOG.ci_systems)
    assert questions["ci"]["default"] == CATALOG.defaults.ci
    assert questions["pattern"]["choices"] == [p.id for p in CATALOG.patterns]
    assert questions["pattern"]["default"] == CATALOG.defaults.pattern
    trigger = CATALOG.defaults.trigger
    assert yaml.safe_load(questions["triggers"]["default"]) == [{"name": trigger, "kind": trigger}]


def test_copier_yml_needs_no_trust() -> None:
    config = _copier_config()
    assert not {"_tasks", "_jinja_extensions", "_external_data", "_migrations"} & set(config)


def test_name_rules_match_copier_validators() -> None:
    from trigger_scaffold._answers import PROJECT_NAME_RE, TRIGGER_NAME_RE

    text = (ROOT / "copier.yml").read_text()
    # copier.yml compares the match with the whole name (`$` would pass a final newline).
    for pattern, name in ((PROJECT_NAME_RE, "project_name"), (TRIGGER_NAME_RE, "t.name")):
        regex = pattern.pattern.replace("(?:", "(")
        assert f"regex_search('^{regex}')) != {name}" in text


def test_readme_kind_table_matches_catalog() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = re.search(r"<!-- kinds:start -->\n(.*?)<!-- kinds:end -->", readme, re.S)
    assert block, "README.md lacks the generated kinds table; run `make docs`"
    assert block.group(1) == kinds_table(CATALOG), "README.md kinds table is stale; run `make docs`"


@pytest.mark.parametrize("kind", [k for k in CATALOG.triggers if k.available], ids=lambda k: k.id)
def test_derived_catalog_fields_are_current(kind: object) -> None:
    """id_words and checkov_skips are generated from the partials by `make docs`."""
    from trigger_scaffold import TriggerKind
    from trigger_scaffold._docs import checkov_skips, id_words

    assert isinstance(kind, TriggerKind)
    assert list(kind.id_words) == id_words(KINDS_DIR, kind.id), "run `make docs`"
    assert list(kind.checkov_skips) == checkov_skips(KINDS_DIR, kind.id), "run `make docs`"
