"""GCP on loopback: Cloud Storage (gcp-storage-emulator), the metadata server, and the Vertex prediction API.

- `GcsEmulator`: the pure-Python GCS emulator in memory; objects go in and out through the JSON API, the same
  calls `app.serve.storage` makes.
- `MetadataServer`: the instance metadata server every Cloud Run / Vertex container has. It issues one access
  token for the service account; google-auth finds it through `GCE_METADATA_HOST`/`GCE_METADATA_IP`, exactly as
  it finds the real one, so the function's token code runs unchanged.
- `VertexApi`: `projects.locations.endpoints.predict` and `rawPredict` for the deployed endpoints, checking the
  bearer token and forwarding to the model container's `AIP_PREDICT_ROUTE`. `:predict` answers as Vertex does
  (the container's `predictions` only, plus the deployed model's ids: anything else the container said, such as
  its model version, is dropped); `:rawPredict` returns the container's status and body as they are.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from tricloud.emulate.hosts.web import LocalServer, Reply, json_reply

TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


class GcsEmulator:
    def __init__(self) -> None:
        from gcp_storage_emulator.server import create_server

        self.server = create_server("127.0.0.1", 0, in_memory=True)
        self.server._api.daemon = True  # its serving thread must not keep a finished process alive
        self.server.start()
        self.port = int(self.server._api._httpd.server_address[1])  # the library exposes no accessor

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(
            f"{self.url}/storage/v1/b",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def upload(self, bucket: str, name: str, data: bytes) -> str:
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        req = urllib.request.Request(
            f"{self.url}/upload/storage/v1/b/{urllib.parse.quote(bucket)}/o?{query}", data=data, method="POST"
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
        return f"gs://{bucket}/{name}"

    def download(self, bucket: str, name: str) -> bytes:
        obj = urllib.parse.quote(name, safe="")
        with urllib.request.urlopen(f"{self.url}/storage/v1/b/{bucket}/o/{obj}?alt=media", timeout=60) as r:
            return bytes(r.read())

    def close(self) -> None:
        self.server.stop()


class MetadataServer:
    """The GCE metadata server subset google-auth and the Vertex container use; one token per run."""

    def __init__(self, project: str, account_email: str) -> None:
        self.project = project
        self.account_email = account_email
        self.token = "ya29.local-" + secrets.token_urlsafe(24)
        self.requests: list[str] = []
        self.http = LocalServer(self._route)

    @property
    def host(self) -> str:
        return self.http.url.removeprefix("http://")

    def env(self) -> dict[str, str]:
        """The variables that point google-auth (and app.serve.storage) at this server."""
        return {"GCE_METADATA_HOST": self.host, "GCE_METADATA_IP": self.host}

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        flavor = {"Metadata-Flavor": "Google"}
        parts = urllib.parse.urlsplit(path)
        self.requests.append(parts.path)
        if headers.get("metadata-flavor") != "Google":
            return 403, {"Content-Type": "text/plain", **flavor}, b"Missing Metadata-Flavor:Google header."
        if parts.path in ("", "/"):
            return 200, {"Content-Type": "text/plain", **flavor}, b"computeMetadata/\n"
        if parts.path == TOKEN_PATH:
            return json_reply(
                200, {"access_token": self.token, "expires_in": 3599, "token_type": "Bearer"}, flavor
            )
        if parts.path == "/computeMetadata/v1/project/project-id":
            return 200, {"Content-Type": "text/plain", **flavor}, self.project.encode()
        if parts.path.rstrip("/") == "/computeMetadata/v1/instance/service-accounts/default":
            info = {
                "aliases": ["default"],
                "email": self.account_email,
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            }
            return json_reply(200, info, flavor)
        if parts.path == "/computeMetadata/v1/instance/service-accounts/default/email":
            return 200, {"Content-Type": "text/plain", **flavor}, self.account_email.encode()
        return 404, {"Content-Type": "text/plain", **flavor}, b"Not Found"

    def close(self) -> None:
        self.http.close()


@dataclass
class DeployedModel:
    endpoint_id: str
    deployed_model_id: str
    model_id: str
    display_name: str
    container_url: str  # http://127.0.0.1:PORT of the model container
    predict_route: str  # its AIP_PREDICT_ROUTE


ROUTE = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/endpoints/([^/:]+):(predict|rawPredict)$")


def google_error(status: int, reason: str, message: str) -> Reply:
    return json_reply(status, {"error": {"code": status, "message": message, "status": reason}})


class VertexApi:
    def __init__(self, project: str, region: str, token: str) -> None:
        self.project, self.region, self.token = project, region, token
        self.models: dict[str, DeployedModel] = {}
        self.outage = False  # True: the deployed model is unavailable, as during a failed rollout
        self.calls: list[tuple[str, int]] = []  # (method name, status): what the platform was asked
        self.http = LocalServer(self._route)

    @property
    def url(self) -> str:
        return self.http.url

    def deploy(self, model: DeployedModel) -> None:
        self.models[model.endpoint_id] = model

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        reply = self._answer(method, path, headers, body)
        m = ROUTE.match(urllib.parse.urlsplit(path).path)
        self.calls.append((m.group(4) if m else path, reply[0]))
        return reply

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        m = ROUTE.match(urllib.parse.urlsplit(path).path)
        if m is None:
            return google_error(404, "NOT_FOUND", f"no such method {path}")
        project, region, endpoint_id, verb = m.groups()
        if method != "POST":
            return google_error(405, "METHOD_NOT_ALLOWED", f"{verb} takes POST")
        if headers.get("authorization") != f"Bearer {self.token}":
            return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if (project, region) != (self.project, self.region) or endpoint_id not in self.models:
            name = f"projects/{project}/locations/{region}/endpoints/{endpoint_id}"
            return google_error(404, "NOT_FOUND", f'Endpoint "{name}" not found.')
        model = self.models[endpoint_id]
        if self.outage:
            return google_error(
                503, "UNAVAILABLE", f"deployed model {model.deployed_model_id} is unavailable"
            )
        status, got_headers, data = self._forward(
            model, headers.get("content-type", "application/json"), body
        )
        if verb == "rawPredict":
            out = {k: v for k, v in got_headers.items() if k.lower() in ("content-type", "x-model-version")}
            out["X-Vertex-AI-Endpoint-Id"] = model.endpoint_id
            out["X-Vertex-AI-Deployed-Model-Id"] = model.deployed_model_id
            return status, out, data
        if status >= 300:
            return google_error(400, "FAILED_PRECONDITION", data.decode(errors="replace")[:500])
        try:
            predictions = json.loads(data)["predictions"]
        except (ValueError, KeyError, TypeError):
            return google_error(400, "FAILED_PRECONDITION", "the model server's answer has no predictions")
        return json_reply(
            200,
            {
                "predictions": predictions,
                "deployedModelId": model.deployed_model_id,
                "model": f"projects/{self.project}/locations/{self.region}/models/{model.model_id}",
                "modelDisplayName": model.display_name,
                "modelVersionId": "1",
            },
        )

    def _forward(
        self, model: DeployedModel, content_type: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(
            model.container_url + model.predict_route,
            data=body,
            headers={"Content-Type": content_type},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers.items()), r.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers.items()), err.read()
        except OSError as exc:
            return 503, {"Content-Type": "application/json"}, json.dumps({"error": str(exc)}).encode()

    def close(self) -> None:
        self.http.close()
