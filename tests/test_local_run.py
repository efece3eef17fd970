"""`python -m local_lambda` in generated projects: invoke without Docker, and a local API.

The tool runs as the generated README writes it: a child process in the project's folder,
with the project's development requirements (this repository's dev extras pin the same).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    AlbModel,
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)
from conftest import REPO, available_kinds
from pydantic import ValidationError

TOOL = REPO / "templates" / "project"


def local_lambda(
    project: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m local_lambda ARGS`` in the project, as its README runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "local_lambda", *args],
        cwd=project,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def readme_commands(project: Path) -> list[tuple[list[str], Path | None]]:
    """The offline `python -m local_lambda invoke` lines of the README's local-run block,
    as (arguments, file redirected to stdin)."""
    readme = (project / "README.md").read_text()
    block = readme.split("### Run functions locally", 1)[1].split("```bash", 1)[1].split("```")[0]
    commands = []
    for line in block.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:4] == ["python", "-m", "local_lambda", "invoke"] and "--aws" not in words:
            args, _, stdin = " ".join(words[3:]).partition(" < ")
            commands.append((args.split(), project / stdin if stdin else None))
    return commands


def samples(project: Path) -> list[tuple[str, str]]:
    """(function, sample) pairs as ``local_lambda list`` prints them."""
    listed = local_lambda(project, "list")
    assert listed.returncode == 0, listed.stderr
    pairs, function = [], ""
    for line in listed.stdout.splitlines():
        if line.startswith("    "):
            pairs.append((function, line.strip()))
        else:
            function = line.split()[0]
    return pairs


@pytest.mark.matrix
@pytest.mark.parametrize("kind", available_kinds())
def test_invoke_every_sample_event(kind: str, new_project: Callable[..., Path]) -> None:
    project = new_project("--trigger", kind)
    pairs = samples(project)
    # Every sample event belongs to exactly one function.
    assert sorted(f"{f}-{e}.json" for f, e in pairs) == sorted(
        p.name for p in (project / "events").glob("*.json")
    )
    shown = readme_commands(project)
    assert len(shown) == 2, "the README shows an invoke from a sample and one from stdin"

    runs = [*shown, *((["invoke", f, e], None) for f, e in pairs)]
    for args, stdin in runs:
        ran = local_lambda(project, *args, stdin=stdin.read_text() if stdin else None)
        assert ran.returncode == 0, f"{' '.join(args)}:\n{ran.stdout}\n{ran.stderr}"
        json.loads(ran.stdout)


# --- the local API ------------------------------------------------------------------------


class Served:
    """A ``local_lambda serve`` child process and the address it printed."""

    def __init__(self, project: Path, function: str, max_requests: int):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_lambda",
                "serve",
                function,
                "--port",
                "0",
                "--max-requests",
                str(max_requests),
            ],
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stderr: list[str] = []
        ready = threading.Event()
        self.url = ""

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.stderr.append(line)
                found = re.search(r"on (http://[\d.]+:\d+)$", line.strip())
                if found and not self.url:
                    self.url = found[1]
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not ready.wait(60) or not self.url:
            self.process.kill()
            pytest.fail("the server printed no address:\n" + "".join(self.stderr))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, dict(response.headers), json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, dict(error.headers), json.loads(raw) if raw else None


@pytest.fixture
def serve() -> Iterator[Callable[[Path, str, int], Served]]:
    started: list[Served] = []

    def start(project: Path, function: str, max_requests: int) -> Served:
        started.append(Served(project, function, max_requests))
        return started[-1]

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
        served.process.wait()
        served.reader.join(timeout=10)
        assert served.process.stderr is not None
        served.process.stderr.close()


@pytest.mark.matrix
@pytest.mark.parametrize("kind", ["api", "http-api", "function-url", "alb"])
def test_serve_answers_real_http(
    kind: str, new_project: Callable[..., Path], serve: Callable[[Path, str, int], Served]
) -> None:
    project = new_project("--trigger", f"{kind}:web")
    served = serve(project, "web", 4)
    assert served.url.startswith("http://127.0.0.1:")

    assert served.request("GET", "/health")[::2] == (200, {"status": "ok"})
    status, headers, body = served.request("POST", "/messages", {"text": "hello"})
    assert (status, body["text"]) == (201, "hello")
    assert headers["Content-Type"] == "application/json"
    status, _, body = served.request("POST", "/messages", {"text": 42})
    assert (status, body["message"]) == (400, "'text' is required and must be a string.")
    assert served.request("GET", "/nothing-here")[0] == 404

    # --max-requests 4: the server stops by itself.
    assert served.process.wait(timeout=30) == 0, "".join(served.stderr)


@pytest.mark.matrix
def test_serve_simple_web_service_crud_on_moto_dynamodb(
    new_project: Callable[..., Path], serve: Callable[[Path, str, int], Served]
) -> None:
    project = new_project("--pattern", "simple-web-service", "--trigger", "api:shop")
    served = serve(project, "shop", 6)

    status, _, created = served.request("POST", "/items", {"name": "Blue pen", "quantity": 12})
    assert status == 201
    item = f"/items/{created['id']}"
    assert served.request("GET", item)[::2] == (200, created)
    listed = served.request("GET", "/items?limit=10")
    assert (listed[0], [i["id"] for i in listed[2]["items"]]) == (200, [created["id"]])
    assert served.request("DELETE", item)[0] == 204
    assert served.request("GET", item)[0] == 404
    assert served.request("POST", "/items", {"quantity": "many"})[0] == 400
    assert served.process.wait(timeout=30) == 0, "".join(served.stderr)


# --- event shapes and the invocation environment ------------------------------------------


@pytest.fixture
def tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The generated ``local_lambda.server`` module and a Template of an empty project."""
    monkeypatch.syspath_prepend(str(TOOL))
    import local_lambda.server
    import local_lambda.template

    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    yield local_lambda.server, local_lambda.template.Template(tmp_path, "eu-west-1")
    for name in [m for m in sys.modules if m == "local_lambda" or m.startswith("local_lambda.")]:
        del sys.modules[name]


def _request(server: Any, body: bytes = b"", content_type: str = "application/json") -> Any:
    headers = [
        ("Host", "127.0.0.1:3000"),
        ("User-Agent", "curl/8.5.0"),
        ("Accept", "text/plain"),
        ("Accept", "application/json"),
        ("Cookie", "session=abc; theme=dark"),
        ("Content-Type", content_type),
    ]
    target = "/items/a%20b?limit=5&tag=x&tag=y%2Cz"
    return server.Request("POST", target, headers, body, "127.0.0.1")


def test_rest_event_is_a_v1_proxy_event(tool: Any) -> None:
    server, template = tool
    route = server.Route("ANY", "/{proxy+}")
    event = server.rest_event(
        _request(server, b'{"a": 1}'), route, {"proxy": "items/a b"}, "v1", template
    )

    parsed = APIGatewayProxyEventModel.model_validate(event)
    assert (parsed.resource, parsed.path, parsed.requestContext.stage) == (
        "/{proxy+}",
        "/items/a b",
        "v1",
    )
    assert event["requestContext"]["path"] == "/v1/items/a b"
    assert event["multiValueQueryStringParameters"] == {"limit": ["5"], "tag": ["x", "y,z"]}
    assert event["multiValueHeaders"]["Accept"] == ["text/plain", "application/json"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    with pytest.raises(ValidationError):
        APIGatewayProxyEventModel.model_validate({**event, "httpMethod": None})


def test_http_api_event_is_a_v2_event(tool: Any) -> None:
    server, template = tool
    event = server.http_event(
        _request(server, b"\xff\x00", "application/octet-stream"),
        server.Route("ANY", "/{proxy+}"),
        {"proxy": "items/a b"},
        template,
    )

    parsed = APIGatewayProxyEventV2Model.model_validate(event)
    assert (parsed.routeKey, parsed.rawPath, parsed.rawQueryString) == (
        "ANY /{proxy+}",
        "/items/a b",
        "limit=5&tag=x&tag=y%2Cz",
    )
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["headers"]["accept"] == "text/plain,application/json"
    assert event["queryStringParameters"] == {"limit": "5", "tag": "x,y,z"}
    assert (event["body"], event["isBase64Encoded"]) == ("/wA=", True)
    with pytest.raises(ValidationError):
        APIGatewayProxyEventV2Model.model_validate({**event, "requestContext": {}})


def test_alb_event_keeps_the_query_encoded(tool: Any) -> None:
    server, template = tool
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/local/0"
    event = server.alb_event(_request(server), template, arn)

    parsed = AlbModel.model_validate(event)
    assert parsed.requestContext.elb.targetGroupArn == arn
    assert event["queryStringParameters"] == {"limit": "5", "tag": "y%2Cz"}
    assert event["headers"]["user-agent"] == "curl/8.5.0"
    with pytest.raises(ValidationError):
        AlbModel.model_validate({**event, "requestContext": {}})


def test_routes_prefer_exact_paths_and_methods(tool: Any) -> None:
    server, _ = tool
    api = server.Api(
        "http",
        (
            server.Route("ANY", "/{proxy+}"),
            server.Route("GET", "/health"),
            server.Route("ANY", "/"),
        ),
    )
    assert api.route("GET", "/health") == (server.Route("GET", "/health"), {})
    assert api.route("POST", "/health") == (server.Route("ANY", "/{proxy+}"), {"proxy": "health"})
    assert api.route("GET", "/")[0] == server.Route("ANY", "/")
    assert server.Api("http", (server.Route("POST", "/quotes"),)).route("GET", "/quotes") is None


PROBE = """
import os
import time

import boto3


def lambda_handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    first = context.get_remaining_time_in_millis()
    time.sleep(event.get("sleep", 0.05))
    table = boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])["Table"]
    return {
        "remaining": [first, context.get_remaining_time_in_millis()],
        "table": [os.environ["TABLE_NAME"], table["TableStatus"]],
        "function": [context.function_name, context.memory_limit_in_mb],
        "service": os.environ["POWERTOOLS_SERVICE_NAME"],
        "region": os.environ["AWS_REGION"],
    }
"""


@pytest.mark.matrix
def test_invoke_gives_environment_context_and_moto_resources(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("--pattern", "simple-web-service", "--trigger", "api:shop")
    (project / "functions" / "shop" / "handler.py").write_text(PROBE)

    ran = local_lambda(project, "invoke", "shop", "-", stdin="{}")
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    first, second = answer["remaining"]
    # The template's 28 s timeout, counting down.
    assert 27_000 < first <= 28_000
    assert second <= first - 50
    assert answer["table"][1] == "ACTIVE"
    assert answer["function"] == ["demo-svc-ShopFunction", 256]
    assert (answer["service"], answer["region"]) == ("demo-svc", "us-east-1")

    failed = local_lambda(project, "invoke", "shop", "-", stdin='{"fail": true}')
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "RuntimeError"
    assert "asked to fail" in failed.stderr

    template = project / "template.yaml"
    template.write_text(template.read_text().replace("Timeout: 28", "Timeout: 1"))
    slow = local_lambda(project, "invoke", "shop", "-", stdin='{"sleep": 5}')
    assert (slow.returncode, json.loads(slow.stdout)["errorType"]) == (1, "Sandbox.Timedout")
