"""S3 on loopback: moto's server mode (a real HTTP server speaking the S3 API), so boto3 in the
code under test makes real requests, signed and parsed as against AWS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

ACCESS_KEY_ID = "AKIATESTBATCHES00000"
SECRET_ACCESS_KEY = "test-secret-access-key-for-batches"
REGION = "us-east-1"


@dataclass(frozen=True)
class FakeS3:
    endpoint_url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "text/csv") -> None:
        client = self.client()
        buckets = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket not in buckets:
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


@contextmanager
def fake_s3() -> Iterator[FakeS3]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield FakeS3(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
