"""A fake Vertex AI (v1 REST) behind the real `google-cloud-aiplatform` clients (see fake_http): custom jobs, model
versions, one endpoint with deployed models and a traffic split, predictions. Long-running operations answer done.
Only what `tricloud model` calls is served; anything else answers 404, so a new call shows up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fake_http import Call, FakeHttp

V1 = r"(?P<region>[a-z0-9-]+)-aiplatform\.googleapis\.com/v1/projects/(?P<p>[^/]+)/locations/(?P<loc>[^/]+)"


def done(name: str, kind: str, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"{name}/operations/1",
        "done": True,
        "response": {"@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{kind}", **response},
    }


@dataclass
class FakeVertex:
    http: FakeHttp = field(default_factory=FakeHttp)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_state: str = "JOB_STATE_SUCCEEDED"
    on_job_done: Callable[[dict[str, Any]], None] = lambda job: None
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # version id -> Model JSON
    endpoint: dict[str, Any] = field(default_factory=dict)
    answer: Callable[[str], tuple[int, Any]] | None = None  # deployed model id -> (status, prediction answer)
    predictions: int = 0
    deploys: int = 0

    def __post_init__(self) -> None:
        r = self.http.route
        r("POST", V1 + r"/customJobs", self.create_job)
        r("GET", V1 + r"/customJobs", self.list_jobs)
        r("GET", V1 + r"/customJobs/(?P<id>[^/]+)", self.get_job)
        r("GET", V1 + r"/models/(?P<id>[^/@:]+):listVersions", self.list_versions)
        r("POST", V1 + r"/models:upload", self.upload)
        r("GET", V1 + r"/models/(?P<id>[^/@]+)@(?P<v>[^/]+)", self.get_model)
        r("PATCH", V1 + r"/models/(?P<id>[^/@]+)@(?P<v>[^/]+)", self.patch_model)
        r("GET", V1 + r"/endpoints/(?P<e>[^/:]+)", lambda c: (200, self.endpoint))
        r("PATCH", V1 + r"/endpoints/(?P<e>[^/:]+)", self.patch_endpoint)
        r("POST", V1 + r"/endpoints/(?P<e>[^/:]+):deployModel", self.deploy)
        r("POST", V1 + r"/endpoints/(?P<e>[^/:]+):undeployModel", self.undeploy)
        r("POST", V1 + r"/endpoints/(?P<e>[^/:]+):predict", self.predict)

    @staticmethod
    def parent(call: Call) -> str:
        m = call.match
        assert m is not None
        return f"projects/{m['p']}/locations/{m['loc']}"

    # --- jobs ---

    def create_job(self, call: Call) -> tuple[int, Any]:
        job = call.json()
        job["name"] = f"{self.parent(call)}/customJobs/{1000 + len(self.jobs)}"
        job["state"] = "JOB_STATE_PENDING"
        self.jobs[job["name"]] = job
        return 200, job

    def get_job(self, call: Call) -> tuple[int, Any]:
        job = self.jobs[f"{self.parent(call)}/customJobs/{call.match['id']}"]  # type: ignore[index]
        if job["state"] != self.job_state:
            job["state"] = self.job_state
            if self.job_state == "JOB_STATE_SUCCEEDED":
                self.on_job_done(job)
            else:
                job["error"] = {
                    "code": 9,
                    "message": "The replica workerpool0-0 exited with a non-zero status of 2.",
                }
        return 200, job

    def list_jobs(self, call: Call) -> tuple[int, Any]:
        wanted = (call.query.get("filter") or [""])[0]
        jobs = [j for j in self.jobs.values() if f'display_name="{j["displayName"]}"' == wanted or not wanted]
        return 200, {"customJobs": jobs}

    # --- models ---

    def list_versions(self, call: Call) -> tuple[int, Any]:
        if not self.versions:
            return 404, {"error": {"code": 404, "message": "Model not found", "status": "NOT_FOUND"}}
        return 200, {"models": [self.versions[v] for v in sorted(self.versions, key=int)]}

    def upload(self, call: Call) -> tuple[int, Any]:
        body = call.json()
        model_id = body.get("modelId") or body["parentModel"].rsplit("/", 1)[1]
        if body.get("modelId") and self.versions:
            return 409, {"error": {"code": 409, "message": "model exists", "status": "ALREADY_EXISTS"}}
        version = str(len(self.versions) + 1)
        name = f"{self.parent(call)}/models/{model_id}"
        self.versions[version] = {**body["model"], "name": name, "versionId": version}
        return 200, done(name, "UploadModelResponse", {"model": name, "modelVersionId": version})

    def get_model(self, call: Call) -> tuple[int, Any]:
        return 200, self.versions[call.match["v"]]  # type: ignore[index]

    def patch_model(self, call: Call) -> tuple[int, Any]:
        v = self.versions[call.match["v"]]  # type: ignore[index]
        body = call.json()
        for path in (call.query.get("updateMask") or [""])[0].split(","):
            key = {"version_description": "versionDescription"}.get(path, path)  # the mask arrives camelCase
            v[key] = body[key]
        return 200, v

    # --- endpoint ---

    def patch_endpoint(self, call: Call) -> tuple[int, Any]:
        self.endpoint["trafficSplit"] = call.json()["trafficSplit"]
        return 200, self.endpoint

    def deploy(self, call: Call) -> tuple[int, Any]:
        body = call.json()
        self.deploys += 1
        deployed = {**body["deployedModel"], "id": str(9000 + self.deploys)}
        self.predictions = 0  # a new split starts its round
        deployed["model"], _, deployed["modelVersionId"] = deployed["model"].partition("@")
        self.endpoint.setdefault("deployedModels", []).append(deployed)
        split = {(deployed["id"] if k == "0" else k): v for k, v in body.get("trafficSplit", {}).items()}
        self.endpoint["trafficSplit"] = split
        return 200, done(self.endpoint["name"], "DeployModelResponse", {"deployedModel": deployed})

    def undeploy(self, call: Call) -> tuple[int, Any]:
        gone = call.json()["deployedModelId"]
        self.endpoint["deployedModels"] = [d for d in self.endpoint["deployedModels"] if d["id"] != gone]
        self.endpoint["trafficSplit"] = {
            k: v for k, v in self.endpoint.get("trafficSplit", {}).items() if k != gone
        }
        return 200, done(self.endpoint["name"], "UndeployModelResponse", {})

    def predict(self, call: Call) -> tuple[int, Any]:
        # Deterministic split: per 100 requests, the smallest share first (a canary of 10 % answers requests 1-10).
        split = self.endpoint.get("trafficSplit", {})
        order = [i for i in sorted(split, key=lambda k: split[k]) for _ in range(split[i])]
        chosen = order[self.predictions % len(order)] if order else ""
        self.predictions += 1
        if self.answer is not None:
            status, payload = self.answer(chosen)
            if status != 200:
                return status, payload
        return 200, {"predictions": [5000000.0] * len(call.json()["instances"]), "deployedModelId": chosen}
