"""Where the engine and the data plane send AWS API calls: moto (in-process or at a URL), optionally LocalStack.

`Emulator.start(...)` gives boto3 clients per service and the `AWS_*` environment a subprocess needs to reach the
same emulator through the standard `AWS_ENDPOINT_URL_<SERVICE>` variables (so app code needs no change).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

# The emulators accept any key pair; these fixed ones are what the local gateway verifies SigV4 signatures against.
# A 12-digit key id is LocalStack's way to pick the account: it then matches moto's default account, so ARNs agree.
ACCESS_KEY_ID = "123456789012"
SECRET_ACCESS_KEY = "tricloud-local-emulator-secret-key-0000000"
# Services the LocalStack tier takes (it evaluates alarms and enforces S3 settings moto ignores); the rest is moto.
LOCALSTACK_SERVICES = frozenset({"s3", "iam", "kms", "cloudwatch", "logs"})
# boto3 service name -> the suffix of its AWS_ENDPOINT_URL_<SUFFIX> variable.
ENV_SUFFIX = {
    "s3": "S3",
    "iam": "IAM",
    "kms": "KMS",
    "cloudwatch": "CLOUDWATCH",
    "logs": "CLOUDWATCH_LOGS",
    "sagemaker-runtime": "SAGEMAKER_RUNTIME",
}
MOTO_CONFIG = {
    # moto cannot run Lambda code without Docker; the local gateway runs the handler instead.
    "lambda": {"use_docker": False},
    "batch": {"use_docker": False},
    # EMR's service role attaches an AWS-managed policy, which moto only knows when it loads them.
    "iam": {"load_aws_managed_policies": True},
}


class EmulatorError(Exception):
    """The emulator cannot be started or reached."""


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()


def reachable(url: str, path: str = "/moto-api/") -> bool:
    try:
        _get(url.rstrip("/") + path, timeout=5.0)
        return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer (LocalStack has no /moto-api) still means a server listens
    except (OSError, ValueError):
        return False


@dataclass
class Emulator:
    region: str
    moto_url: str
    backend: str = "moto"  # moto | localstack
    localstack_url: str | None = None
    in_process: bool = False
    _server: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _session: Any = None

    # --- lifecycle ---

    @classmethod
    def start(
        cls,
        region: str,
        *,
        endpoint: str | None = None,
        backend: str = "moto",
        localstack_url: str | None = None,
    ) -> Emulator:
        """In-process moto on a free loopback port, or the moto server at `endpoint`."""
        if backend not in ("moto", "localstack"):
            raise EmulatorError(f"backend = {backend!r}: must be moto or localstack")
        if backend == "localstack":
            localstack_url = localstack_url or os.environ.get("LOCALSTACK_URL", "http://127.0.0.1:4566")
            if not reachable(localstack_url, "/_localstack/health"):
                raise EmulatorError(
                    f"LocalStack is not reachable at {localstack_url}: run `scripts/localstack.sh start` first"
                )
        if endpoint:
            if not reachable(endpoint):
                raise EmulatorError(
                    f"--endpoint {endpoint}: no emulator answers there (is moto_server running?)"
                )
            emu = cls(
                region=region, moto_url=endpoint.rstrip("/"), backend=backend, localstack_url=localstack_url
            )
        else:
            os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            emu = cls(
                region=region,
                moto_url=f"http://{host}:{port}",
                backend=backend,
                localstack_url=localstack_url,
                in_process=True,
                _server=server,
            )
        emu.configure_moto()
        return emu

    def configure_moto(self) -> None:
        req = urllib.request.Request(
            self.moto_url + "/moto-api/config",
            data=json.dumps(MOTO_CONFIG).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=5):
                pass
        except (OSError, urllib.error.HTTPError) as exc:
            raise EmulatorError(
                f"{self.moto_url} is not a moto server (POST /moto-api/config: {exc})"
            ) from None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addressing ---

    def url_for(self, service: str) -> str:
        if self.backend == "localstack" and service in LOCALSTACK_SERVICES and self.localstack_url:
            return self.localstack_url
        return self.moto_url

    def moto_client(self, service: str) -> Any:
        """A client of moto even when the service is routed to LocalStack (for mirrored IAM roles)."""
        return self.client(service, moto=True)

    def client(self, service: str, *, moto: bool = False) -> Any:
        key = f"moto:{service}" if moto else service
        with self._lock:
            if key not in self._clients:
                if self._session is None:
                    self._session = boto3.session.Session(
                        aws_access_key_id=ACCESS_KEY_ID,
                        aws_secret_access_key=SECRET_ACCESS_KEY,
                        region_name=self.region,
                    )
                self._clients[key] = self._session.client(
                    service,
                    endpoint_url=self.moto_url if moto else self.url_for(service),
                    config=Config(
                        retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"}
                    ),
                )
            return self._clients[key]

    def env(self) -> dict[str, str]:
        """`AWS_*` variables for a subprocess (Spark, training, the Lambda worker) to reach this emulator."""
        env = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.moto_url,
        }
        for service, suffix in ENV_SUFFIX.items():
            if service != "sagemaker-runtime":
                env[f"AWS_ENDPOINT_URL_{suffix}"] = self.url_for(service)
        return env

    def describe(self) -> dict[str, Any]:
        """Recorded in the state file: a later run must reach the same emulator for the state to mean anything."""
        return {
            "backend": self.backend,
            "moto_url": self.moto_url,
            "localstack_url": self.localstack_url if self.backend == "localstack" else None,
            "in_process": self.in_process,
            "pid": os.getpid() if self.in_process else None,
            "region": self.region,
        }

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])
