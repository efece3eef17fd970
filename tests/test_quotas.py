"""CloudFormation's per-stack quotas: the measured stack costs are right, and ``new`` and
``add-trigger`` refuse a project past a quota before writing anything.

The matrix tier renders projects and checks that the catalog's costs add up to the counts
of the translated template, and that ``make docs`` left the costs up to date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from conftest import available_kinds, whole_projects
from stack_costs import FIELDS, measure, translated_counts

from trigger_scaffold import load_catalog
from trigger_scaffold._catalog import Catalog, StackCost, catalog_path
from trigger_scaffold._cli import main
from trigger_scaffold._docs import stack_costs_yaml
from trigger_scaffold._errors import TriggerScaffoldError
from trigger_scaffold._quotas import check_quotas, crossed_quota, fits, project_cost, room_for
from trigger_scaffold._template import git

CATALOG = load_catalog()
KINDS = available_kinds()
PREFIX = "trigger-scaffold: error: "


def _triggers(kinds: list[str]) -> list[str]:
    return [arg for i, kind in enumerate(kinds) for arg in ("--trigger", f"{kind}:t{i}")]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(PREFIX), err
    return err[len(PREFIX) :].strip()


def test_forty_sqs_triggers_are_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = ["sqs"] * 40
    assert main(["new", str(tmp_path / "many"), "--no-input", *_triggers(kinds)]) == 1
    most = room_for(CATALOG, "none", [], "sqs")
    error = _one_line_error(capsys)
    assert error == (
        f"40 sqs triggers make {project_cost(CATALOG, 'none', kinds).resources} resources "
        f"after the SAM transform; CloudFormation allows 500 per stack: at most {most} sqs "
        "triggers fit (split the service into several projects)"
    )
    assert list(tmp_path.iterdir()) == []
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert error.split(" (split")[0] in readme, "README.md's Limits example is stale"
    assert fits(CATALOG, "none", ["sqs"] * most)
    assert not fits(CATALOG, "none", ["sqs"] * (most + 1))


def test_every_kind_twice_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = [kind for kind in KINDS for _ in range(2)]
    assert not fits(CATALOG, "none", kinds)
    assert main(["new", str(tmp_path / "all"), "--no-input", *_triggers(kinds)]) == 1
    error = _one_line_error(capsys)
    match = re.fullmatch(
        rf"{len(kinds)} triggers make (\d+) resources after the SAM transform; CloudFormation "
        rf"allows 500 per stack: the first (\d+) of these {len(kinds)} triggers fit \(.*\)",
        error,
    )
    assert match, error
    assert int(match[1]) == project_cost(CATALOG, "none", kinds).resources
    first = int(match[2])
    assert fits(CATALOG, "none", kinds[:first])
    assert not fits(CATALOG, "none", kinds[: first + 1])
    assert list(tmp_path.iterdir()) == []


def test_a_pattern_and_other_quotas_are_named() -> None:
    # An ALB trigger takes 8 parameters (listener, VPC, subnets...): parameters run out first.
    alb = ["alb"] * (room_for(CATALOG, "none", [], "alb") + 1)
    crossed = crossed_quota(project_cost(CATALOG, "none", alb))
    assert crossed is not None
    assert crossed[0].startswith("parameters ")
    assert crossed[2] == 200
    with pytest.raises(
        TriggerScaffoldError, match=r"parameters after the SAM transform.* allows 200 "
    ):
        check_quotas(CATALOG, "none", alb)
    sqs = ["sqs"] * 40
    with pytest.raises(TriggerScaffoldError, match="40 sqs triggers with the pub-sub pattern make"):
        check_quotas(CATALOG, "pub-sub", sqs)
    # A pattern's own functions and resources leave room for fewer triggers.
    assert room_for(CATALOG, "pub-sub", [], "sqs") < room_for(CATALOG, "none", [], "sqs")


def test_add_trigger_names_the_project_as_the_largest_that_fits() -> None:
    kinds = [kind for kind in KINDS if kind != "sns"]
    while fits(CATALOG, "none", [*kinds, "sns"]):
        kinds.append("sqs")
    with pytest.raises(TriggerScaffoldError) as refused:
        check_quotas(CATALOG, "none", [*kinds, "sns"], adding="sns")
    assert str(refused.value).startswith("one more sns trigger makes ")
    assert f"the project's {len(kinds)} triggers are the most that fit" in str(refused.value)


def test_the_template_size_quota_is_named() -> None:
    heavy = replace(CATALOG, stack_base=StackCost(bytes=1_048_577))
    with pytest.raises(
        TriggerScaffoldError,
        match=r"^1 sqs trigger makes \d+ bytes of template\.yaml .* allows 1048576 per stack: "
        r"at most 0 sqs triggers fit",
    ):
        check_quotas(heavy, "none", ["sqs"])


def test_the_costs_come_from_the_catalog() -> None:
    """With no measured costs the check has nothing to add up: it must not pass silently."""
    hollow = replace(
        CATALOG,
        triggers=tuple(replace(t, stack_cost=StackCost()) for t in CATALOG.triggers),
    )
    with pytest.raises(TriggerScaffoldError, match="no stack cost for 'sqs'; run `make docs`"):
        room_for(hollow, "none", [], "sqs")
    assert fits(hollow, "none", ["sqs"] * 40)  # why the matrix tier checks the figures


def test_add_trigger_at_the_ceiling_is_refused_and_leaves_the_project_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    most = room_for(CATALOG, "none", [], "sqs")
    project = tmp_path / "full"
    assert main(["new", str(project), "--no-input", "--quiet", *_triggers(["sqs"] * most)]) == 0
    # The ceiling project itself is within the quota once translated, as predicted.
    counts = translated_counts(project)
    assert counts["resources"] == project_cost(CATALOG, "none", ["sqs"] * most).resources <= 500
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "full", cwd=project)
    head = git("rev-parse", "HEAD", cwd=project)
    capsys.readouterr()
    assert main(["add-trigger", "sqs", "-C", str(project)]) == 1
    error = _one_line_error(capsys)
    assert error.startswith("one more sqs trigger makes ")
    assert f"at most {most} sqs triggers fit" in error
    assert git("status", "--porcelain", "--untracked-files=all", cwd=project) == ""
    assert git("rev-parse", "HEAD", cwd=project) == head


def test_list_shows_the_cost_of_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for kind in data["triggers"]:
        if kind["status"] == "available":
            assert kind["stack_cost"]["resources"] > 0, kind["id"]
    assert data["stack"]["quotas"]["resources"] == 500
    assert data["stack"]["shared"], "the CodeDeploy application is shared by every kind"
    assert main(["list"]) == 0
    sqs = CATALOG.trigger("sqs").stack_cost.resources
    assert re.search(rf"^  sqs +poll +{sqs} res ", capsys.readouterr().out, re.M)


# What CloudFormation counts, against what the catalog predicts.
PROJECTS = [
    *whole_projects(),
    ("sqs-alone", ["--trigger", "sqs"]),
    ("cloudfront-alone", ["--trigger", "cloudfront"]),
    ("ten-sqs", _triggers(["sqs"] * 10)),
    ("edge-ses-config-twice", _triggers(["cloudfront", "ses", "config"] * 2)),
]
_ROW = re.compile(r"^\| `([a-z0-9-]+)` \| (\d+) \| (\d+) \|$", re.M)


def mismatches(project: Path, catalog: Catalog, pattern: str, kinds: list[str]) -> list[str]:
    """Where the catalog's prediction differs from the translated template and its README."""
    predicted = asdict(project_cost(catalog, pattern, kinds))
    counts = translated_counts(project)
    wrong = [
        f"{field}: predicted {predicted[field]}, translated {counts[field]}"
        for field in FIELDS
        if (
            counts[field] > predicted[field]
            if field == "bytes"
            else counts[field] != predicted[field]
        )
    ]
    readme = (project / "README.md").read_text(encoding="utf-8")
    rows = _ROW.findall(readme)
    if not rows:
        wrong.append("README.md has no table of how many more triggers fit")
    for kind, _, room in rows:
        expected = room_for(catalog, pattern, kinds, kind)
        if int(room) != expected:
            wrong.append(f"README: {room} more {kind} fit, predicted {expected}")
    return wrong


@pytest.mark.matrix
@pytest.mark.parametrize(("spec", "args"), PROJECTS, ids=[spec for spec, _ in PROJECTS])
def test_predicted_counts_equal_the_translated_template(
    new_project: Callable[..., Path], spec: str, args: list[str]
) -> None:
    project = new_project(*args)
    pattern = args[args.index("--pattern") + 1] if "--pattern" in args else "none"
    kinds = [arg.split(":")[0] for i, arg in enumerate(args) if i and args[i - 1] == "--trigger"]
    assert mismatches(project, CATALOG, pattern, kinds) == []
    # The comparison sees a table that drifted by one resource.
    drifted = replace(CATALOG, stack_base=CATALOG.stack_base + StackCost(resources=1))
    assert any(
        line.startswith("resources:") for line in mismatches(project, drifted, pattern, kinds)
    )


def _costs_section() -> str:
    text = catalog_path().read_text(encoding="utf-8")
    return text[text.index("stack_costs:") :]


@pytest.mark.matrix
def test_stack_costs_are_up_to_date() -> None:
    """templates/catalog.yml holds what `make docs` measures today."""
    costs = measure(CATALOG)
    assert stack_costs_yaml(costs).endswith(_costs_section()), (
        "stack costs are stale: run `make docs`"
    )
    costs["kinds"]["sqs"]["resources"] += 1
    assert not stack_costs_yaml(costs).endswith(_costs_section())
