"""A fake Azure ML workspace and ADLS Gen2 account behind the real `azure-ai-ml` and `azure-storage-file-datalake`
clients (see fake_http): ARM resources kept in memory as the service returns them, files of the lake, the endpoint's
scoring URI. Only what `tricloud model` calls is served; anything else answers 404, so a new call shows up."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fake_http import Call, FakeHttp

ARM = r"management\.azure\.com/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"


class Token:
    def get_token(self, *scopes: str, **kw: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", int(time.time()) + 3600)


@dataclass
class FakeAzure:
    http: FakeHttp = field(default_factory=FakeHttp)
    files: dict[str, bytes] = field(default_factory=dict)  # "<account>/<filesystem>/<path>" -> bytes
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> ARM body
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_status: str = "Completed"
    endpoint: dict[str, Any] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    scoring: Any = None  # fn(deployment, body) -> (status, payload)
    scored: list[str] = field(default_factory=list)  # deployment of each scoring call

    def __post_init__(self) -> None:
        r = self.http.route
        r(
            "GET",
            ARM,
            lambda c: (
                200,
                {
                    "id": c.path,
                    "name": c.match["ws"],
                    "location": "centralindia",  # type: ignore[index]
                    "kind": "Default",
                    "properties": {"provisioningState": "Succeeded"},
                },
            ),
        )
        r("PUT", ARM + r"/environments/(?P<name>[^/]+)/versions/(?P<v>[^/]+)", self.put_echo)
        r("PUT", ARM + r"/jobs/(?P<name>[^/]+)", self.put_job)
        r("GET", ARM + r"/jobs/(?P<name>[^/]+)", self.get_job)
        r("GET", ARM + r"/models/(?P<name>[^/]+)/versions", self.list_models)
        r("GET", ARM + r"/models/(?P<name>[^/]+)/versions/(?P<v>[^/]+)", self.get_model)
        r("PUT", ARM + r"/models/(?P<name>[^/]+)/versions/(?P<v>[^/]+)", self.put_model)
        r("GET", ARM + r"/models/(?P<name>[^/]+)", self.get_container)
        r("GET", ARM + r"/onlineEndpoints/(?P<ep>[^/]+)", self.get_endpoint)
        r("PUT", ARM + r"/onlineEndpoints/(?P<ep>[^/]+)", self.put_endpoint)
        r(
            "POST",
            ARM + r"/onlineEndpoints/(?P<ep>[^/]+)/listKeys",
            lambda c: (200, {"primaryKey": "k1", "secondaryKey": "k2"}),
        )
        r("GET", ARM + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments", self.list_deployments)
        r("GET", ARM + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<d>[^/]+)", self.get_deployment)
        r("PUT", ARM + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<d>[^/]+)", self.put_deployment)
        r("GET", r"(?P<account>[^.]+)\.dfs\.core\.windows\.net/(?P<fs>[^/]+)", self.list_paths)
        r("GET", r"(?P<account>[^.]+)\.dfs\.core\.windows\.net/(?P<fs>[^/]+)/(?P<path>.+)", self.read_file)
        r("HEAD", r"(?P<account>[^.]+)\.dfs\.core\.windows\.net/(?P<fs>[^/]+)/(?P<path>.+)", self.read_file)
        r("GET", r"(?P<account>[^.]+)\.blob\.core\.windows\.net/(?P<fs>[^/]+)/(?P<path>.+)", self.read_file)
        r("POST", r"endpoint\.centralindia\.inference\.ml\.azure\.com/score", self.score)

    # --- helpers ---

    @staticmethod
    def arm_id(call: Call) -> str:
        return call.path

    def put_echo(self, call: Call) -> tuple[int, Any]:
        body = call.json()
        return 200, {"id": call.path, "name": call.match["v"] if call.match else "", **body}  # type: ignore[index]

    # --- jobs ---

    def put_job(self, call: Call) -> tuple[int, Any]:
        body = call.json()
        name = call.match["name"]  # type: ignore[index]
        body["properties"]["status"] = "Starting"
        job = {
            "id": call.path,
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            **body,
        }
        self.jobs[name] = job
        return 201, job

    def get_job(self, call: Call) -> tuple[int, Any]:
        job = self.jobs.get(call.match["name"])  # type: ignore[index]
        if job is None:
            return 404, {"error": {"code": "NotFound", "message": "job not found"}}
        job["properties"]["status"] = self.job_status
        return 200, job

    # --- models ---

    def model_body(self, name: str, version: str, props: dict[str, Any], path: str) -> dict[str, Any]:
        return {
            "id": f"{path.rsplit('/versions', 1)[0]}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
            "properties": {"flavors": {}, **props},  # the service always answers a flavors map
        }

    def list_models(self, call: Call) -> tuple[int, Any]:
        return 200, {"value": [self.models[v] for v in sorted(self.models, key=int)]}

    def get_model(self, call: Call) -> tuple[int, Any]:
        m = self.models.get(call.match["v"])  # type: ignore[index]
        return (200, m) if m else (404, {"error": {"code": "NotFound", "message": "no such version"}})

    def put_model(self, call: Call) -> tuple[int, Any]:
        v = call.match["v"]  # type: ignore[index]
        self.models[v] = self.model_body(call.match["name"], v, call.json()["properties"], call.path)  # type: ignore[index]
        return 200, self.models[v]

    def get_container(self, call: Call) -> tuple[int, Any]:
        latest = max((int(v) for v in self.models), default=0)
        return 200, {
            "id": call.path,
            "name": call.match["name"],  # type: ignore[index]
            "properties": {"latestVersion": str(latest) if latest else None, "nextVersion": str(latest + 1)},
        }

    # --- endpoint and deployments ---

    def get_endpoint(self, call: Call) -> tuple[int, Any]:
        return 200, self.endpoint

    def put_endpoint(self, call: Call) -> tuple[int, Any]:
        body = call.json()
        self.endpoint["properties"]["traffic"] = body["properties"].get("traffic", {})
        return 200, self.endpoint

    def list_deployments(self, call: Call) -> tuple[int, Any]:
        return 200, {"value": list(self.deployments.values())}

    def get_deployment(self, call: Call) -> tuple[int, Any]:
        d = self.deployments.get(call.match["d"])  # type: ignore[index]
        return (200, d) if d else (404, {"error": {"code": "NotFound", "message": "no deployment"}})

    def put_deployment(self, call: Call) -> tuple[int, Any]:
        name = call.match["d"]  # type: ignore[index]
        body = call.json()
        body["properties"]["provisioningState"] = "Succeeded"
        self.deployments[name] = {"id": call.path, "name": name, "location": "centralindia", **body}
        return 200, self.deployments[name]

    def score(self, call: Call) -> tuple[int, Any]:
        slot = call.headers.get("azureml-model-deployment", "")
        self.scored.append(slot)
        return self.scoring(slot, call.json()) if self.scoring else (200, {"predictions": [1.0]})

    # --- the lake ---

    def list_paths(self, call: Call) -> tuple[int, Any]:
        m = call.match
        assert m is not None
        prefix = f"{m['account']}/{m['fs']}/"
        directory = (call.query.get("directory") or [""])[0].strip("/")
        names = [k[len(prefix) :] for k in sorted(self.files) if k.startswith(prefix)]
        names = [n for n in names if not directory or n.startswith(directory + "/")]
        paths = [
            {"name": n, "isDirectory": "false", "contentLength": str(len(self.files[prefix + n]))}
            for n in names
        ]
        return 200, {"paths": paths}

    def read_file(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        m = call.match
        assert m is not None
        data = self.files.get(f"{m['account']}/{m['fs']}/{m['path']}")
        if data is None:
            return (
                404,
                {"error": {"code": "PathNotFound", "message": "no such path"}},
                {"x-ms-error-code": "PathNotFound"},
            )
        headers = {
            "Content-Range": f"bytes 0-{max(len(data) - 1, 0)}/{len(data)}",
            "x-ms-resource-type": "file",
            "ETag": '"0x1"',
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        }
        return (206 if call.headers.get("x-ms-range") or call.headers.get("Range") else 200), data, headers
