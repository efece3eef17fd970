"""How fast trigger-scaffold generates, and how lean the generated functions start.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench.py [--runs N]``). Prints medians of
N runs, each beside the floor it is judged against, and whether each goal holds. No network:
AWS calls made by handlers go to a closed local port and fail fast; a custom resource's
ResponseURL goes to a loopback server that accepts the PUT.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import yaml

from trigger_scaffold import load_catalog
from trigger_scaffold._template import git

PY = sys.executable
KINDS = [k.id for k in load_catalog().triggers if k.available]
if os.environ.get("TS_KINDS"):  # e.g. TS_KINDS=sqs,s3 to measure some kinds only
    KINDS = [k for k in KINDS if k in os.environ["TS_KINDS"].split(",")]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}
RUNTIME_PACKAGES = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
}  # the Lambda Python runtime ships these


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def paired(
    action: Callable[[int], object], floor: Callable[[], float], runs: int
) -> tuple[float, float]:
    """Median seconds of ``action`` and its median ratio to the floor, timed just before it.

    Each run is paired with a floor run so that the ratio stays steady while the machine's
    speed drifts (a shared virtual machine's does, by a third within minutes).
    """
    times, ratios = [], []
    for i in range(runs):
        below = floor()
        times.append(seconds(functools.partial(action, i)))
        ratios.append(times[-1] / below)
    return statistics.median(times), statistics.median(ratios)


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **GIT_ENV, **(env or {})}, check=True, capture_output=True
    )


def trigger_args(count: int) -> list[str]:
    args = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        args += ["--trigger", f"{kind}:{kind}-{i}" if i >= len(KINDS) else kind]
    return args


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def bench_generation(work: Path, runs: int) -> list[str]:
    lines = ["== Generation (median wall time, fresh process each run) =="]
    floor_tpl = work / "floor-template"
    floor_tpl.mkdir()
    (floor_tpl / "copier.yml").write_text("name: {type: str, default: x}\n")
    (floor_tpl / "README.md.jinja").write_text("# {{ name }}\n")
    git("init", "--quiet", cwd=floor_tpl)
    git("add", "-A", cwd=floor_tpl)
    git("commit", "--quiet", "-m", "floor", cwd=floor_tpl, env=GIT_ENV)
    copier = str(Path(PY).parent / "copier")
    floors: list[float] = []

    copy = [copier, "copy", "--quiet", "--defaults", "--vcs-ref", "HEAD", str(floor_tpl)]

    def copier_floor() -> float:
        dest = work / f"floor-{len(floors)}"
        floors.append(seconds(lambda: run([*copy, str(dest)])))
        return floors[-1]

    cli = [PY, "-m", "trigger_scaffold"]
    home = {"TRIGGER_SCAFFOLD_HOME": str(work / "home")}
    run([*cli, "list"], env=home)
    # The mirror exists and every partial's compiled code is cached (jinja-bytecode in the
    # home), as after a user's first `new`; "new-25-cold" below measures without that cache.
    run([*cli, "new", str(work / "warm"), "--no-input", "-q", *trigger_args(25)], env=home)
    results: dict[str, tuple[float, float]] = {}

    def new_without_cache(i: int) -> None:
        shutil.rmtree(work / "home" / "jinja-bytecode", ignore_errors=True)
        run([*cli, "new", str(work / f"cold-{i}"), "--no-input", "-q", *trigger_args(25)], env=home)

    results["new-25-cold"] = paired(new_without_cache, copier_floor, runs)
    for count in (1, 5, 25):

        def new(i: int, count: int = count) -> None:
            dest = work / f"new{count}-{i}"
            run([*cli, "new", str(dest), "--no-input", "-q", *trigger_args(count)], env=home)

        results[f"new-{count}"] = paired(new, copier_floor, runs)
    for count in (1, 10):
        projects = []
        for i in range(runs):
            dest = work / f"life{count}-{i}"
            run([*cli, "new", str(dest), "--no-input", "-q", *trigger_args(count)], env=home)
            run(["git", "add", "-A"], cwd=dest)
            run(["git", "commit", "-qm", "init"], cwd=dest)
            projects.append(dest)

        def add_trigger(i: int, projects: list[Path] = projects) -> None:
            run(
                [*cli, "add-trigger", "sqs", "--name", "bench", "-q", "-C", str(projects[i])],
                env=home,
            )

        results[f"add-trigger-{count}"] = paired(add_trigger, copier_floor, runs)
        for p in projects:
            run(["git", "add", "-A"], cwd=p)
            run(["git", "commit", "-qm", "added"], cwd=p)

        def update(i: int, projects: list[Path] = projects) -> None:
            run([*cli, "update", "-q", "-C", str(projects[i])], env=home)

        results[f"update-{count}"] = paired(update, copier_floor, runs)
    lines.append(
        f"copier floor (one-file template): {statistics.median(floors):.2f} s "
        f"(median of {len(floors)}, one run before each measured run; "
        f"range {min(floors):.2f}-{max(floors):.2f} s)"
    )
    for name, (took, ratio) in results.items():
        lines.append(f"{name:<16} {took:6.2f} s   {ratio:5.2f} x floor")
    lines.append("Goals:")
    ratio_1 = results["new-1"][1]
    lines.append(
        f"  new with 1 trigger <= 1.5 x floor: {ratio_1:.2f} x -> {verdict(ratio_1 <= 1.5)}"
    )
    ratio_25 = results["new-25"][1] / results["new-1"][1]  # each against its own floor runs
    lines.append(f"  new 25 triggers <= 2 x new 1: {ratio_25:.2f} x -> {verdict(ratio_25 <= 2)}")
    add_1, add_10 = results["add-trigger-1"][1], results["add-trigger-10"][1]
    lines.append(
        f"  add-trigger <= 3 x floor: {add_1:.2f} x (1 trigger), {add_10:.2f} x (10) -> "
        f"{verdict(max(add_1, add_10) <= 3)}"
    )
    return lines


COLD_START = """
import json, os, sys, importlib.util, time
start = time.perf_counter()
os.environ.update(json.load(open(sys.argv[3])))  # the function's environment (template.yaml)
# As Lambda does: the function's folder (/var/task) is on the path, so the handler module
# imports app.py beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
name = os.path.splitext(os.path.basename(sys.argv[1]))[0]
spec = importlib.util.spec_from_file_location(name, sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
class Context:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"; log_group_name = "/aws/lambda/bench"; log_stream_name = "bench"
    def get_remaining_time_in_millis(self): return 30000
event = json.load(open(sys.argv[2]))
try:
    module.lambda_handler(event, Context())
except Exception:
    pass  # an AWS call to the closed port fails; the import and the invocation ran
"""
FLOOR = "import json, boto3"
CLIENT = re.compile(r"boto3\.client\(\s*[\"']([\w-]+)[\"']")


def _sandbox_env() -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",  # as the template's Globals set it
        "AWS_LAMBDA_LOG_LEVEL": "ERROR",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }


class _TemplateLoader(yaml.SafeLoader):
    """Reads template.yaml; CloudFormation's short tags (!Ref, !Sub, ...) become None."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _function_environment(project: Path, code_uri: str) -> dict[str, str]:
    """The variables template.yaml gives the function at ``code_uri``, as Lambda sets them.

    Values CloudFormation resolves at deploy time (queue URLs, topic ARNs) get stand-ins:
    the handler only needs them to be set, and its AWS calls go to a closed port anyway.
    """
    template = yaml.load((project / "template.yaml").read_text(), Loader=_TemplateLoader)
    variables: dict[str, object] = {
        **template.get("Globals", {})
        .get("Function", {})
        .get("Environment", {})
        .get("Variables", {})
    }
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        if str(props.get("CodeUri", "")).rstrip("/") == code_uri:
            variables.update((props.get("Environment") or {}).get("Variables") or {})
    stand_ins = {
        "_URL": "http://127.0.0.1:9/bench",
        "_ARN": "arn:aws:sns:us-east-1:123456789012:bench",
    }
    return {
        name: str(value)
        if isinstance(value, str | int)
        else next(
            (v for end, v in stand_ins.items() if name.endswith(end)), f"bench-{name.lower()}"
        )
        for name, value in variables.items()
    }


def _python_seconds(args: list[str]) -> float:
    return seconds(
        lambda: subprocess.run([PY, *args], env=_sandbox_env(), check=True, capture_output=True)
    )


def _paired_python(args: list[str], floor: Callable[[], float], runs: int) -> tuple[float, float]:
    return paired(lambda _: _python_seconds(args), floor, runs)


def _top_imports(args: list[str], top: int = 4) -> str:
    result = subprocess.run(
        [PY, "-X", "importtime", *args],
        env=_sandbox_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    costs: dict[str, int] = {}
    for line in result.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(2)) <= 1:  # top-level imports only
            costs[m.group(3)] = max(costs.get(m.group(3), 0), int(m.group(1)))
    ranked = sorted(costs.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in ranked)


def _dist_size(name: str, seen: set[str]) -> int:
    key = name.lower().replace("_", "-")
    if key in seen or key in RUNTIME_PACKAGES:
        return 0
    seen.add(key)
    dist = metadata.distribution(name)
    total = sum((f.size or 0) for f in dist.files or [])
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        dep = re.split(r"[ ;<>=!~\[]", req, maxsplit=1)[0]
        total += _dist_size(dep, seen)
    return total


def package_size(function_dir: Path) -> int:
    total = sum(p.stat().st_size for p in function_dir.rglob("*") if p.is_file())
    seen: set[str] = set()
    for line in (function_dir / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            total += _dist_size(re.split(r"[ ;<>=!~\[]", line, maxsplit=1)[0], seen)
    return total


class _AcceptPut(http.server.BaseHTTPRequestHandler):
    """Stands in for the presigned URL a CloudFormation custom resource answers."""

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        del args


def _local_event(event_file: Path, work: Path, response_url: str) -> Path:
    """The sample event, with any callback URL pointed at the loopback server."""
    event = json.loads(event_file.read_text())
    if "ResponseURL" in event:
        event["ResponseURL"] = response_url
    local = work / f"event-{event_file.name}"
    local.write_text(json.dumps(event))
    return local


def bench_functions(work: Path, runs: int) -> list[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AcceptPut)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return _bench_functions(work, runs, f"http://127.0.0.1:{server.server_port}/response")
    finally:
        server.shutdown()


def _bench_functions(work: Path, runs: int, response_url: str) -> list[str]:
    lines = ["== Generated functions: cold start (fresh interpreter) and package size =="]
    project = work / "all-kinds"
    run(
        [
            PY,
            "-m",
            "trigger_scaffold",
            "new",
            str(project),
            "--no-input",
            "-q",
            *trigger_args(len(KINDS)),
        ],
        env={"TRIGGER_SCAFFOLD_HOME": str(work / "home")},
    )
    floors: list[float] = []

    def python_floor() -> float:
        floors.append(_python_seconds(["-c", FLOOR]))
        return floors[-1]

    floor_line = len(lines)
    script = work / "cold_start.py"
    script.write_text(COLD_START)
    catalog = load_catalog()
    ratios: dict[str, float] = {}
    with_clients: dict[str, str] = {}
    for kind in KINDS:
        folder = project / "functions" / kind
        # The entry point SAM names in template.yaml (handler.py; app.py before the split).
        entry = folder / "handler.py" if (folder / "handler.py").is_file() else folder / "app.py"
        event = _local_event(
            project / "events" / f"{kind}-{catalog.trigger(kind).events[0]}.json",
            work,
            response_url,
        )
        environment = work / f"env-{kind}.json"
        environment.write_text(json.dumps(_function_environment(project, f"functions/{kind}")))
        handler = [str(script), str(entry), str(event), str(environment)]
        took, ratios[kind] = _paired_python(handler, python_floor, runs)
        size = package_size(project / "functions" / kind)
        lines.append(
            f"{kind:<12} {took * 1000:5.0f} ms  {ratios[kind]:4.2f} x floor  "
            f"package {size / 1e6:5.2f} MB  top imports: {_top_imports(handler)}"
        )
        sources = "".join(f.read_text() for f in folder.glob("*.py"))
        # Powertools Idempotency creates its DynamoDB client itself (idempotency.py).
        idempotent = (folder / "idempotency.py").is_file()
        services = sorted(set(CLIENT.findall(sources)) | ({"dynamodb"} if idempotent else set()))
        if ratios[kind] > 1.5 and services:
            clients = "; ".join(f"boto3.client({s!r})" for s in services)
            client_floor = functools.partial(_python_seconds, ["-c", f"{FLOOR}; {clients}"])
            _, ratio = _paired_python(handler, client_floor, runs)
            with_clients[kind] = f"{kind} {ratio:.2f} x ({', '.join(services)})"
    lines.insert(
        floor_line,
        f"floor (python -c '{FLOOR}'): {statistics.median(floors) * 1000:.0f} ms (median of "
        f"{len(floors)}, one run before each measured run; range "
        f"{min(floors) * 1000:.0f}-{max(floors) * 1000:.0f} ms)",
    )
    worst = max(ratios, key=lambda k: ratios[k])
    lines.append(
        f"Goal: cold start <= 1.5 x floor for every kind: worst {ratios[worst]:.2f} x "
        f"({worst}) -> {verdict(ratios[worst] <= 1.5)}"
    )
    over = sorted(k for k, r in ratios.items() if r > 1.5)
    if over:
        lines.append(
            f"  over 1.5 x: {', '.join(over)}; against a floor that also creates the boto3 "
            f"clients the handler creates: {'; '.join(with_clients.get(k, k) for k in over)}"
        )
    lines += _bench_idempotency(work, project, script, python_floor, runs, response_url)
    requirements = {(project / "functions" / k / "requirements.txt").read_text() for k in KINDS}
    packaged = sorted(
        {
            line.split("==")[0]
            for text in requirements
            for line in text.splitlines()
            if line and not line.startswith("#")
        }
    )
    lines.append(
        f"Goal: nothing packaged the handler does not need (boto3 comes with the "
        f"runtime): packaged {packaged} -> "
        f"{verdict(not RUNTIME_PACKAGES & set(packaged))}"
    )
    return lines


def _bench_idempotency(
    work: Path,
    project: Path,
    script: Path,
    floor: Callable[[], float],
    runs: int,
    response_url: str,
) -> list[str]:
    """Cold start of each at-least-once consumer with and without idempotency (idempotency.py).

    ``project`` has every kind with its default; a second project flips each one, so every
    offering kind is measured both ways. With it, the function imports Powertools Idempotency
    and creates a DynamoDB client; its two writes a record (in progress, done) go to the
    closed port here, and cost one DynamoDB round trip each on AWS.
    """
    catalog = load_catalog()
    offering = [k for k in KINDS if catalog.trigger(k).idempotency is not None]
    if not offering:
        return []
    flipped = work / "idempotency-flipped"
    flips = [
        f"--idempotency={k}={'off' if catalog.trigger(k).idempotency.default else 'on'}"  # type: ignore[union-attr]
        for k in offering
    ]
    run(
        [PY, "-m", "trigger_scaffold", "new", str(flipped), "--no-input", "-q",
         *trigger_args(len(KINDS)), *flips],
        env={"TRIGGER_SCAFFOLD_HOME": str(work / "home")},
    )  # fmt: skip
    lines = ["-- idempotency: cold start of each at-least-once consumer with and without it --"]
    for kind in offering:
        offer = catalog.trigger(kind).idempotency
        assert offer is not None
        took: dict[bool, float] = {}
        for source in (project, flipped):
            folder = source / "functions" / kind
            on = (folder / "idempotency.py").is_file()
            event = _local_event(
                source / "events" / f"{kind}-{catalog.trigger(kind).events[0]}.json",
                work,
                response_url,
            )
            environment = work / f"env-{kind}-{'on' if on else 'off'}.json"
            environment.write_text(json.dumps(_function_environment(source, f"functions/{kind}")))
            handler = [str(script), str(folder / "handler.py"), str(event), str(environment)]
            took[on], _ = _paired_python(handler, floor, runs)
        lines.append(
            f"{kind:<12} with {took[True] * 1000:5.0f} ms  without {took[False] * 1000:5.0f} ms  "
            f"cost {(took[True] - took[False]) * 1000:+5.0f} ms  "
            f"default {'on' if offer.default else 'off'}"
        )
    on = [k for k in offering if catalog.trigger(k).idempotency.default]  # type: ignore[union-attr]
    off = [k for k in offering if k not in on]
    lines.append(
        "Idempotency defaults: on for "
        + (", ".join(on) or "none")
        + " (queues, topics, events, schedules, S3: nobody waits on their cold start or the "
        "two DynamoDB writes a record); off for "
        + (", ".join(off) or "none")
        + " (a stream shard waits in order on every record's writes; IoT messages carry no "
        "id of their own)"
    )
    return lines


def bench_stack(work: Path) -> list[str]:
    """Translated template size for 1, 10, 25 and 50 triggers, and the time to make each.

    A project past a CloudFormation quota is refused before anything is written; its line
    shows the time to refuse and the counts the SAM transform gives when the same project is
    rendered with the quota check switched off (in-process), so the growth stays visible.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from stack_costs import translated_counts  # test tooling: runs the SAM transform

    from trigger_scaffold import _cli

    lines = [
        "== Stack size after the SAM transform (CloudFormation: 500 resources, 200 outputs, "
        "200 parameters per stack) ==",
        f"{'triggers':<10}{'new':>9}{'resources':>11}{'outputs':>9}{'parameters':>12}"
        f"{'KB':>6}  result",
    ]
    cli = [PY, "-m", "trigger_scaffold"]
    for count in (1, 10, 25, 50):
        dest = work / f"stack-{count}"
        args = ["new", str(dest), "--no-input", "-q", *trigger_args(count)]
        start = time.perf_counter()
        done = subprocess.run([*cli, *args], capture_output=True, text=True, check=False)
        took = time.perf_counter() - start
        result = "generated"
        if done.returncode != 0:
            result = f"refused in {took:.2f} s (counts: rendered with the check off)"
            check = _cli.check_quotas
            _cli.check_quotas = lambda *_args, **_kwargs: None  # type: ignore[assignment]
            try:
                _cli.main(args)
            finally:
                _cli.check_quotas = check
        counts = translated_counts(dest)
        lines.append(
            f"{count:<10}{took:>7.2f} s{counts['resources']:>11}{counts['outputs']:>9}"
            f"{counts['parameters']:>12}{counts['bytes'] // 1024:>6}  {result}"
        )
        if done.returncode != 0:
            lines.append(f"  {done.stderr.strip()}")
    lines.append("Per kind (resources / outputs / parameters per trigger, from the catalog):")
    catalog = load_catalog()
    for kind in catalog.triggers:
        if kind.available:
            cost = kind.stack_cost
            lines.append(f"  {kind.id:<16}{cost.resources:>4} / {cost.outputs} / {cost.parameters}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument(
        "--only", choices=["generation", "stack", "functions"], help="one part only"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ts-bench-"))
    try:
        print(
            f"trigger-scaffold benchmarks: {args.runs} runs each, python {sys.version.split()[0]}"
            f", {os.cpu_count()} cores"
        )
        if args.only in (None, "generation"):
            print("\n".join(bench_generation(work, args.runs)))
        if args.only in (None, "stack"):
            print("\n".join(bench_stack(work)))
        if args.only in (None, "functions"):
            print("\n".join(bench_functions(work, args.runs)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
