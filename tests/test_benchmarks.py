"""The benchmark script runs end to end and prints every figure and goal (no timed asserts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
FIGURE = r"\s+\d+\.\d\d s\s+\d+\.\d\d x floor"


@pytest.mark.matrix
def test_bench_prints_every_figure_and_goal() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "1"],
        env={**os.environ, "TS_KINDS": "sqs,s3"},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"copier floor \(one-file template\): \d+\.\d\d s", out), out
    for name in ("new-25-cold", "new-1", "new-5", "new-25", "add-trigger-1", "update-1",
                 "add-trigger-10", "update-10"):  # fmt: skip
        assert re.search(rf"^{name}{FIGURE}$", out, re.MULTILINE), name
    for goal in ("new with 1 trigger <= 1.5 x floor", "new 25 triggers <= 2 x new 1",
                 "add-trigger <= 3 x floor", "cold start <= 1.5 x floor for every kind",
                 "nothing packaged the handler does not need"):  # fmt: skip
        assert re.search(rf"{re.escape(goal)}.* -> (MET|NOT MET)$", out, re.MULTILINE), goal
    for count in (1, 10, 25, 50):
        line = re.search(
            rf"^{count} +\d+\.\d\d s +(\d+) +\d+ +\d+ +\d+  (generated|refused)", out, re.M
        )
        assert line, count
    assert re.search(r"^  trigger-scaffold: error: 50 triggers make \d+ resources", out, re.M)
    assert re.search(r"^  sqs +\d+ / \d+ / \d+$", out, re.MULTILINE)
    for kind in ("sqs", "s3"):
        line = re.search(rf"^{kind} +\d+ ms +\d+\.\d\d x floor +package +[\d.]+ MB +top "
                         r"imports: (.+)$", out, re.MULTILINE)  # fmt: skip
        assert line, kind
        assert "aws_lambda_powertools" in line.group(1)
    assert "packaged ['aws-lambda-powertools']" in out
    # Idempotency's cold-start cost per offering kind, and the defaults it justifies.
    for kind in ("sqs", "s3"):
        assert re.search(
            rf"^{kind} +with +\d+ ms +without +\d+ ms +cost +[+-]\d+ ms +default on$", out, re.M
        ), kind
    assert re.search(r"^Idempotency defaults: on for s3, sqs \(.*\); off for none \(", out, re.M)
    # s3 heads the object, so it creates a client (and, idempotent, a DynamoDB one): over the
    # goal, it is shown against a floor that creates the same clients.
    if re.search(r"^  over 1\.5 x: (.*, )?s3[,;]", out, re.MULTILINE):
        assert re.search(r"s3 \d+\.\d\d x \((dynamodb, )?s3\)", out), out
