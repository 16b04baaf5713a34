"""Where a batch's input comes from when it is named by URL: ``https://`` or ``s3://``.

Both are copied, size-limited and streamed, into a temporary file (in memory up to 1 MiB, on
disk beyond), which the readers then read like an upload.

``https://`` must not let a caller turn the server against its own network. The host is
resolved once; if any of its addresses is private, loopback, link-local, shared, reserved or
multicast the URL is refused (unless the policy allows it), and the connection goes to one of
the addresses that were checked, never to a second resolution of the name (so a name that
changes its answer between the check and the connection, DNS rebinding, gains nothing). TLS is
verified against the host name. Redirects are followed by hand, each hop checked the same way.

``s3://bucket/key`` is read with boto3, with the platform's S3 settings. Those credentials
read on behalf of every organization, so a key must start with the organization's slug and a
``/`` (and the bucket be one of the allowed buckets, when a list is set): one organization
cannot name another's object.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import unquote, urljoin, urlsplit

from calls.exceptions import BatchSourceRefused, BatchSourceTooLarge, BatchSourceUnavailable
from voiceagents import netguard

__all__ = [
    "Fetched",
    "FetchPolicy",
    "S3Config",
    "address_allowed",
    "https_fetch",
    "s3_fetch",
    "too_large",
    "url_fetch",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_REDIRECTS = 5
_COPY_CHUNK = 256 * 1024
_SPOOL_BYTES = 1 << 20
_USER_AGENT = "voiceagents-batch-import"
# Seconds one socket operation may wait (the policy's timeout bounds the whole fetch).
_SOCKET_TIMEOUT = 15.0


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    # Seconds for the whole fetch, redirects included.
    timeout: float = 60.0
    # Allow every address (a deployment that imports from its own network).
    allow_private: bool = False
    # Networks allowed although not public (e.g. one internal file server).
    allowed_networks: Sequence[IPNetwork] = ()


@dataclass(frozen=True)
class S3Config:
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"
    endpoint_url: str = ""
    # Buckets that may be read; empty = any the credentials can read.
    buckets: Sequence[str] = field(default_factory=tuple)


@dataclass
class Fetched:
    """A downloaded input: a seekable file at 0, the name it had and its content type."""

    file: IO[bytes]
    name: str
    content_type: str = ""


def too_large(max_bytes: int) -> BatchSourceTooLarge:
    return BatchSourceTooLarge(
        f"The input is larger than {max_bytes:,} bytes (BATCH_MAX_FILE_BYTES).",
        details={"max_bytes": max_bytes},
    )


def url_fetch(url: str, *, policy: FetchPolicy, s3: S3Config | None, s3_key_prefix: str) -> Fetched:
    """Fetch an ``https://`` or ``s3://`` URL."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https":
        return https_fetch(url, policy=policy)
    if scheme == "s3":
        return s3_fetch(url, config=s3, max_bytes=policy.max_bytes, key_prefix=s3_key_prefix)
    raise BatchSourceRefused(
        "file_url must be an https:// or s3:// URL.", details={"fields": {"file_url": [url]}}
    )


# --- addresses -----------------------------------------------------------------------------------


def address_allowed(address: str, *, policy: FetchPolicy) -> bool:
    """Whether the server may connect to ``address``: a public unicast address, or one the
    policy allows. IPv4 addresses written as IPv6 (``::ffff:127.0.0.1``) count as IPv4."""
    return netguard.address_allowed(
        address, allow_private=policy.allow_private, allowed_networks=policy.allowed_networks
    )


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BatchSourceUnavailable(
            f"{host} cannot be resolved.", details={"host": host, "reason": str(exc)}
        ) from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _checked_addresses(host: str, port: int, policy: FetchPolicy) -> list[str]:
    addresses = _resolve(host, port)
    refused = [address for address in addresses if not address_allowed(address, policy=policy)]
    if refused or not addresses:
        raise BatchSourceRefused(
            f"{host} is a private, loopback or link-local address ({', '.join(refused)}); "
            "this server does not fetch from its own network.",
            details={"host": host, "addresses": refused},
        )
    return addresses


# --- https ---------------------------------------------------------------------------------------


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to ``host`` that connects to the addresses given (already checked)
    rather than resolving the name again; TLS is verified against ``host``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        addresses: Iterable[str],
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._addresses = list(addresses)
        self._tls = context

    def connect(self) -> None:
        last: OSError | None = None
        for address in self._addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                last = exc
                continue
            try:
                self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
            return
        raise last or OSError(f"no address to connect to for {self.host}")


def https_fetch(url: str, *, policy: FetchPolicy) -> Fetched:
    """GET an https:// URL into a temporary file, within ``policy``."""
    deadline = time.monotonic() + policy.timeout
    context = ssl.create_default_context()
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme.lower() != "https":
            raise BatchSourceRefused(
                f"Only https:// URLs are fetched ({url!r}).", details={"url": url}
            )
        if parts.username or parts.password:
            raise BatchSourceRefused("Credentials in the URL are not supported.")
        host = parts.hostname or ""
        try:
            port = parts.port or 443
        except ValueError:
            raise BatchSourceRefused(f"{url!r} has an invalid port.") from None
        if not host:
            raise BatchSourceRefused(f"{url!r} names no host.")
        addresses = _checked_addresses(host, port, policy)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = _PinnedHTTPSConnection(
            host,
            port,
            addresses=addresses,
            timeout=min(_remaining(deadline), _SOCKET_TIMEOUT),
            context=context,
        )
        try:
            try:
                connection.request(
                    "GET", target, headers={"User-Agent": _USER_AGENT, "Accept": "*/*"}
                )
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise _unavailable(host, exc) from None
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location") or ""
                if not location:
                    raise BatchSourceUnavailable(f"{host} redirected without a Location.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise BatchSourceUnavailable(
                    f"{host} answered {response.status} {response.reason}.",
                    details={"host": host, "status": response.status},
                )
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > policy.max_bytes:
                raise too_large(policy.max_bytes)
            try:
                file = _copy(response, max_bytes=policy.max_bytes, deadline=deadline)
            except (OSError, http.client.HTTPException) as exc:
                raise _unavailable(host, exc) from None
            name = unquote(parts.path.rsplit("/", 1)[-1])
            return Fetched(
                file=file, name=name, content_type=response.getheader("Content-Type", "")
            )
        finally:
            connection.close()
    raise BatchSourceUnavailable(f"More than {MAX_REDIRECTS} redirects.", details={"url": url})


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise BatchSourceUnavailable("Fetching the file took too long (BATCH_FILE_URL_TIMEOUT).")
    return remaining


def _unavailable(host: str, exc: Exception) -> BatchSourceUnavailable:
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        message = f"The TLS connection to {host} failed: {exc}"
    elif isinstance(exc, TimeoutError | socket.timeout):
        message = f"{host} did not answer in time."
    else:
        message = f"{host} could not be reached: {exc}"
    return BatchSourceUnavailable(message, details={"host": host, "reason": str(exc)})


def _copy(response: http.client.HTTPResponse, *, max_bytes: int, deadline: float) -> IO[bytes]:
    file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (returned open)
    size = 0
    try:
        while True:
            _remaining(deadline)
            chunk = response.read1(_COPY_CHUNK)  # what one read gives: the deadline is checked
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            file.write(chunk)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


# --- s3 ------------------------------------------------------------------------------------------


def s3_fetch(url: str, *, config: S3Config | None, max_bytes: int, key_prefix: str) -> Fetched:
    """GET ``s3://bucket/key`` into a temporary file. The key must start with ``key_prefix``."""
    if config is None:
        raise BatchSourceRefused(
            "s3:// sources are not configured on this server (BATCH_S3_* settings)."
        )
    parts = urlsplit(url)
    bucket = parts.netloc
    key = unquote(parts.path.lstrip("/"))
    if not bucket or not key:
        raise BatchSourceRefused(f"{url!r} is not of the form s3://bucket/key.")
    if config.buckets and bucket not in config.buckets:
        raise BatchSourceRefused(
            f"The bucket {bucket!r} is not one this server reads from.",
            details={"bucket": bucket},
        )
    if not key.startswith(key_prefix):
        raise BatchSourceRefused(
            f"Keys must start with {key_prefix!r} (your organization's folder).",
            details={"key": key, "prefix": key_prefix},
        )
    # boto3 costs ~0.4 s to import: only s3:// sources need it.
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=config.endpoint_url or None,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2}),
    )
    try:
        obj = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise BatchSourceUnavailable(
            f"S3 refused s3://{bucket}/{key}: {code}.", details={"s3_code": code}
        ) from None
    except BotoCoreError as exc:
        raise BatchSourceUnavailable(f"S3 could not be reached: {exc}") from None
    if int(obj.get("ContentLength") or 0) > max_bytes:
        obj["Body"].close()
        raise too_large(max_bytes)
    file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (returned open)
    size = 0
    try:
        for chunk in obj["Body"].iter_chunks(_COPY_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            file.write(chunk)
    except (BotoCoreError, OSError) as exc:
        file.close()
        raise BatchSourceUnavailable(f"Reading s3://{bucket}/{key} failed: {exc}") from None
    except BaseException:
        file.close()
        raise
    finally:
        obj["Body"].close()
    file.seek(0)
    return Fetched(file=file, name=key.rsplit("/", 1)[-1], content_type=obj.get("ContentType", ""))
