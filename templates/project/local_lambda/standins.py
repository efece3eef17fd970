"""What stands in for AWS around an invocation under moto.

Sample events name objects and endpoints that exist only in AWS: the object an S3 event
reports, and the secret a rotation event names, are created in moto first, and a custom
resource's ResponseURL points at a loopback listener that prints what CloudFormation would
receive. API operations moto does not
implement get a placeholder answer shaped like AWS's, with a warning.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from unittest import mock
from urllib.parse import unquote_plus

import boto3
from botocore.client import BaseClient
from botocore.model import Shape


def _note(message: str) -> None:
    print(f"local_lambda: {message}", file=sys.stderr, flush=True)


def seed_s3_objects(event: Any) -> None:
    """Create the buckets and objects an S3 notification event reports, and give the event
    the version ids moto assigned."""
    records = event.get("Records") if isinstance(event, dict) else None
    s3 = boto3.client("s3")
    for record in records or []:
        if not isinstance(record, dict) or "s3" not in record:
            continue
        bucket, item = record["s3"]["bucket"]["name"], record["s3"]["object"]
        key = unquote_plus(item["key"])
        _create_bucket(s3, bucket)
        if "ObjectRemoved" in str(record.get("eventName", "")):
            continue
        put = s3.put_object(Bucket=bucket, Key=key, Body=b"x" * int(item.get("size", 0)))
        if "versionId" in item:
            item["versionId"] = put.get("VersionId", item["versionId"])
        _note(f"created s3://{bucket}/{key} in moto ({item.get('size', 0)} bytes)")


def seed_idempotency_table(environment: dict[str, str]) -> None:
    """Create the table a function records its business events in (IDEMPOTENCY_TABLE), as
    template.yaml's IdempotencyStore declares it, when moto does not have it yet."""
    name = environment.get("IDEMPOTENCY_TABLE")
    if not name:
        return
    dynamodb = boto3.client("dynamodb")
    if name in dynamodb.list_tables()["TableNames"]:
        return
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    _note(f"created idempotency table {name} in moto")


def seed_config_resource(event: Any) -> None:
    """Create the S3 bucket an oversized AWS Config notification names, so the handler's
    GetResourceConfigHistory finds it (moto's Config looks buckets up in moto's S3)."""
    if not (isinstance(event, dict) and isinstance(event.get("invokingEvent"), str)):
        return
    summary = json.loads(event["invokingEvent"]).get("configurationItemSummary") or {}
    if summary.get("resourceType") == "AWS::S3::Bucket":
        _create_bucket(boto3.client("s3"), summary["resourceName"])
        _note(f"created bucket {summary['resourceName']} in moto for AWS Config")


def seed_rotation_secret(event: Any) -> None:
    """Create the secret a rotation event names, with the event's version staged for rotation
    as Secrets Manager stages it before createSecret (and, for a later step, the pending
    value createSecret stored), and give the event the ARN moto assigned."""
    if not (isinstance(event, dict) and {"Step", "SecretId", "ClientRequestToken"} <= set(event)):
        return
    # Installed with the moto extras of projects that rotate a secret.
    from moto.awslambda.models import LambdaBackend

    client = boto3.client("secretsmanager")
    name = str(event["SecretId"]).split(":secret:")[-1].rsplit("-", 1)[0]
    value = {"username": "local", "password": "L" * 32}
    arn = client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    event["SecretId"] = arn

    class Staged(Exception):
        """RotateSecret staged the version and turned rotation on: stop before any step."""

    def stop(*_: Any, **__: Any) -> None:
        raise Staged

    role = boto3.client("iam").create_role(RoleName="local-rotation", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "")
    function = boto3.client("lambda").create_function(
        FunctionName="local-rotation",
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    with mock.patch.object(LambdaBackend, "invoke", stop), contextlib.suppress(Staged):
        client.rotate_secret(
            SecretId=arn,
            ClientRequestToken=event["ClientRequestToken"],
            RotationLambdaARN=function,
            RotationRules={"AutomaticallyAfterDays": 30},
        )
    if event["Step"] != "createSecret":
        client.put_secret_value(
            SecretId=arn,
            ClientRequestToken=event["ClientRequestToken"],
            SecretString=json.dumps({**value, "password": "P" * 32}),
            VersionStages=["AWSPENDING"],
        )
    _note(f"created secret {name} in moto, version {event['ClientRequestToken']} AWSPENDING")


def _create_bucket(s3: Any, bucket: str) -> None:
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        region = s3.meta.region_name
        options = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **options)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@contextmanager
def custom_resource_listener(event: Any) -> Iterator[None]:
    """Point a custom resource event's ResponseURL at a loopback listener for one PUT."""
    if not (isinstance(event, dict) and "ResponseURL" in event and "RequestType" in event):
        yield
        return

    class Listener(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            _note(f"CloudFormation would receive: {body.decode(errors='replace')}")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    with HTTPServer(("127.0.0.1", 0), Listener) as server:
        thread = threading.Thread(target=server.handle_request, daemon=True)
        thread.start()
        event["ResponseURL"] = f"http://127.0.0.1:{server.server_address[1]}/response"
        yield
        thread.join(timeout=1)


@contextmanager
def placeholder_answers() -> Iterator[None]:
    """Answer the operations moto does not implement with a placeholder of AWS's shape."""
    call = BaseClient._make_api_call

    def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        try:
            return call(client, operation, params)
        except NotImplementedError as error:
            service = client.meta.service_model.service_name
            _note(f"moto has no {service} {operation} ({error}): answered with a placeholder")
            model = client.meta.service_model.operation_model(operation)
            answer = _placeholder(model.output_shape, depth=0) if model.output_shape else {}
            return {**answer, "ResponseMetadata": {"HTTPStatusCode": 200}}

    with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
        yield


def _placeholder(shape: Shape, depth: int) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = getattr(shape, "members", {})
        return {} if depth > 4 else {k: _placeholder(v, depth + 1) for k, v in members.items()}
    if kind in ("list", "map"):
        return [] if kind == "list" else {}
    if kind in ("integer", "long", "float", "double"):
        return 0
    placeholders = {"boolean": False, "timestamp": datetime.now(UTC), "blob": b""}
    if kind in placeholders:
        return placeholders[kind]
    return shape.enum[0] if shape.enum else "local"
