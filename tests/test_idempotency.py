"""Idempotency for at-least-once consumers: each business event has its effect once.

The kinds that offer it (catalog ``idempotency``: the key, what it identifies, the default)
get Powertools Idempotency on one DynamoDB table per project, keyed on what identifies the
business event. The answer is per trigger: ``new --idempotency NAME=on|off``, the wizard, or
``idempotency: true|false`` in copier's ``triggers`` answer, refused in the same words.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import available_kinds, run_cli
from copier_rules import copier_message

from trigger_scaffold import Trigger, load_catalog
from trigger_scaffold._answers import check_idempotency, check_idempotency_fits_pattern
from trigger_scaffold._errors import TriggerScaffoldError

CATALOG = load_catalog()
OFFERING = [k.id for k in CATALOG.triggers if k.idempotency is not None]
LIVE_OFFERING = [k for k in available_kinds() if CATALOG.trigger(k).idempotency is not None]
# What identifies the business event in each kind's record or event.
KEYS = {
    "sqs": "messageId",
    "sns": "Sns.MessageId",
    "eventbridge": '[id, "replay-name"]',
    "schedule": "[scheduleArn, scheduledTime]",
    "s3": "[s3.bucket.name, s3.object.key, s3.object.sequencer]",
    "dynamodb": "eventID",
    "kinesis": "eventID",
    "iot": "[deviceId, receivedAt]",
}
# On where nobody waits on a cold start; off where two writes per record slow an in-order
# shard (streams) or the event has no id of its own (iot). The benchmark reports the cost.
DEFAULT_ON = {"sqs", "sns", "eventbridge", "schedule", "s3"}


def test_the_catalog_answers_each_at_least_once_consumer() -> None:
    assert sorted(OFFERING) == sorted(KEYS)
    for kind, key in KEYS.items():
        offer = CATALOG.trigger(kind).idempotency
        assert offer is not None
        assert offer.key == key, kind
        assert offer.identifies, kind
        assert offer.default == (kind in DEFAULT_ON), kind


def _cli_message(trigger: Trigger, pattern: str = "none") -> str:
    try:
        check_idempotency(trigger, CATALOG)
        check_idempotency_fits_pattern(trigger, pattern)
    except TriggerScaffoldError as error:
        return str(error)
    return ""


@pytest.mark.parametrize("kind", available_kinds())
def test_idempotency_answers_agree_with_copier(kind: str) -> None:
    """copier.yml refuses exactly what the CLI refuses, in the same words."""
    for value in (True, False):
        trigger = Trigger("front", kind, idempotency=value)
        expected = _cli_message(trigger)
        assert copier_message("triggers", triggers=[trigger.as_data()]) == expected, kind
        assert (expected == "") == (kind in OFFERING), kind
        assert "\n" not in expected


@pytest.mark.parametrize("pattern", [p.id for p in CATALOG.patterns if p.id != "none"])
def test_a_pattern_entry_refuses_idempotency_on_in_the_same_words(pattern: str) -> None:
    trigger = Trigger("front", "sqs", idempotency=True)
    expected = _cli_message(trigger, pattern)
    assert expected.startswith("idempotency is generated only for projects without a pattern")
    said = copier_message("pattern", pattern=pattern, triggers=[trigger.as_data()])
    # The pattern may refuse the kind first; when it takes it, it says the same as the CLI.
    if CATALOG.pattern(pattern).accepts("sqs") and CATALOG.pattern(pattern).available:
        assert said == expected
    off = Trigger("front", "sqs", idempotency=False)
    assert _cli_message(off, pattern) == ""


def test_copier_refuses_a_value_that_is_not_true_or_false() -> None:
    said = copier_message("triggers", triggers=[{"name": "q", "kind": "sqs", "idempotency": "on"}])
    assert said == "idempotency of trigger 'q' must be true or false"


def test_the_answer_is_stored_with_the_kind_default(tmp_path: Path) -> None:
    if not {"sqs", "kinesis"} <= set(available_kinds()):
        pytest.skip("sqs and kinesis are not both in the narrowed matrix")
    dest = tmp_path / "svc"
    result = run_cli(
        "new", str(dest), "--no-input", "-q", "--trigger", "sqs:orders", "--trigger", "kinesis"
    )
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["triggers"] == [
        {"name": "orders", "kind": "sqs", "idempotency": True},
        {"name": "kinesis", "kind": "kinesis", "idempotency": False},
    ]


def test_the_flag_is_refused_where_it_does_not_apply(tmp_path: Path) -> None:
    cases = {
        ("--trigger", "api", "--idempotency", "api=on"): (
            "trigger 'api' (api) takes no idempotency answer: only at-least-once consumers do ("
        ),
        ("--trigger", "sqs", "--idempotency", "sqs=yes"): (
            "--idempotency 'sqs=yes': write NAME=on or NAME=off, e.g. --idempotency orders=off"
        ),
        ("--trigger", "sqs", "--idempotency", "x=on"): (
            "--idempotency 'x=on': no trigger named 'x'; triggers: sqs"
        ),
        ("--trigger", "sqs", "--pattern", "pub-sub", "--idempotency", "sqs=on"): (
            "idempotency is generated only for projects without a pattern so far: trigger 'sqs' "
            "would be an entry of pattern 'pub-sub' (answer it off)"
        ),
    }
    for number, (args, message) in enumerate(cases.items()):
        dest = tmp_path / f"x{number}"
        result = run_cli("new", str(dest), "--no-input", *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert not dest.exists()
