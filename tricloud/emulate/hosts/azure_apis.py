"""Azure on loopback: Blob storage (Azurite) and an Azure ML online endpoint's scoring URI.

- `Azurite`: npm's `azurite` 3.35 (the last release for Node 20), installed on first use under
  `.tricloud/node/`, started as `azurite-blob` on 127.0.0.1 with an ephemeral port and a per-run account key (no
  well-known key). The lake's filesystems become blob containers: ADLS Gen2's hierarchical namespace (directories,
  renames, ACLs) is not emulated, which the serving path never needs (it reads and writes whole blobs).
- `AzureMlEndpoint`: `POST /score` as a managed online endpoint answers it: key auth (`Authorization: Bearer`),
  401 without it, the request forwarded to the deployment container's scoring route once its readiness route
  answers 200, the container's status and body returned as they are, with the `azureml-model-deployment` header.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tricloud.emulate.hosts.processes import Proc, base_env
from tricloud.emulate.hosts.venvs import REPO_ROOT, locked
from tricloud.emulate.hosts.web import LocalServer, Reply, json_reply

AZURITE_VERSION = "3.35.0"  # 3.36+ needs Node 22 (DESIGN.md 5)
NODE_ROOT = REPO_ROOT / ".tricloud" / "node"
ACCOUNT = "tricloudlake"


class AzureHostError(RuntimeError):
    """Azurite cannot be installed or started; the message says what to install."""


def azurite_bin(root: Path = NODE_ROOT) -> Path:
    """`azurite-blob` from npm, installed once into .tricloud/node/azurite-<version>."""
    home = root / f"azurite-{AZURITE_VERSION}"
    binary = home / "node_modules" / ".bin" / "azurite-blob"
    if (home / ".complete").is_file() and binary.is_file():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise AzureHostError("Node.js and npm are needed for Azurite: apt-get install nodejs npm (Node 20)")
    with locked(root / f".azurite-{AZURITE_VERSION}.lock"):
        if (home / ".complete").is_file() and binary.is_file():
            return binary
        home.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(home),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"azurite@{AZURITE_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0 or not binary.is_file():
            raise AzureHostError(
                f"npm install azurite@{AZURITE_VERSION} failed: {proc.stderr.strip()[-600:]}"
            )
        (home / ".complete").write_text(AZURITE_VERSION + "\n")
    return binary


class Azurite:
    def __init__(self, workdir: Path) -> None:
        binary = azurite_bin()
        self.key = base64.b64encode(secrets.token_bytes(32)).decode()
        location = workdir / "azurite"
        location.mkdir(parents=True, exist_ok=True)
        self.proc = Proc(
            "azurite-blob",
            [
                binary,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--location",
                location,
                "--disableTelemetry",
                "--skipApiVersionCheck",  # the SDK may be newer than the emulator's API version
            ],
            env=base_env({"AZURITE_ACCOUNTS": f"{ACCOUNT}:{self.key}"}),
            cwd=location,
        )
        m = self.proc.wait_for(r"listens on (http://127\.0\.0\.1:\d+)", timeout=60)
        self.url = f"{m.group(1)}/{ACCOUNT}"

    def client(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(self.url, credential={"account_name": ACCOUNT, "account_key": self.key})

    def close(self) -> None:
        self.proc.stop()


@dataclass
class Deployment:
    name: str  # "blue"
    container_url: str
    readiness_route: str
    scoring_route: str


class AzureMlEndpoint:
    def __init__(self, endpoint_name: str, key: str | None = None) -> None:
        self.endpoint_name = endpoint_name
        self.key = key or secrets.token_urlsafe(32)
        self.deployment: Deployment | None = None
        self.outage = False  # True: the deployment is unavailable (a failing or overloaded container)
        self.calls: list[int] = []
        self.http = LocalServer(self._route)

    @property
    def scoring_uri(self) -> str:
        return f"{self.http.url}/score"

    def deploy(self, deployment: Deployment, timeout: float = 60.0) -> None:
        """Traffic goes to the deployment only after its readiness route answers 200, as Azure ML probes it."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    deployment.container_url + deployment.readiness_route, timeout=5
                ) as r:
                    if r.status == 200:
                        self.deployment = deployment
                        return
            except (OSError, urllib.error.URLError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise AzureHostError(
            f"deployment {deployment.name}: readiness {deployment.readiness_route} failed: {last}"
        )

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        status, out, data = self._answer(method, path, headers, body)
        self.calls.append(status)
        return status, out, data

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path.split("?", 1)[0] != "/score":
            return json_reply(404, {"message": f"no route {path}"})
        if method != "POST":
            return json_reply(405, {"message": "use POST /score"})
        if headers.get("authorization") != f"Bearer {self.key}":
            return json_reply(401, {"message": "key-based authentication failed: missing or invalid key"})
        if self.deployment is None:
            return json_reply(
                424, {"message": f"endpoint {self.endpoint_name} has no deployment with traffic"}
            )
        if self.outage:
            return json_reply(503, {"message": f"deployment {self.deployment.name} is unavailable"})
        d = self.deployment
        req = urllib.request.Request(
            d.container_url + d.scoring_route,
            data=body,
            headers={"Content-Type": headers.get("content-type", "application/json")},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, got, data = r.status, dict(r.headers.items()), r.read()
        except urllib.error.HTTPError as err:
            status, got, data = err.code, dict(err.headers.items()), err.read()
        except OSError as exc:
            return json_reply(502, {"message": f"deployment {d.name} did not answer: {exc}"})
        out = {k: v for k, v in got.items() if k.lower() in ("content-type", "x-model-version")}
        out["azureml-model-deployment"] = d.name
        return status, out, data

    def close(self) -> None:
        self.http.close()
