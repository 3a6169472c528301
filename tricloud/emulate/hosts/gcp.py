"""`tricloud emulate gcp`: the serving half of stacks/gcp on loopback, each part under its real host.

inventory (the stack program under Pulumi mocks) -> lake (the GCS emulator) -> data -> train (the image's `train`
as a Vertex custom job) -> serve (the image's entry point with the environment Vertex sets, fetching its model
from AIP_STORAGE_URI; the Vertex prediction API in front) -> function (the source archive from its bucket,
requirements installed as Cloud Build would, under functions-framework with Cloud Run's variables and a
metadata server) -> a prediction through the function -> the fallback when the endpoint fails.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from app.serve.contracts import VERTEX
from tricloud.emulate.hosts.gcp_apis import DeployedModel, GcsEmulator, MetadataServer, VertexApi
from tricloud.emulate.hosts.platform import (
    RAW_NAME,
    HostPlatform,
    HostPlatformError,
    archive_bytes,
    extract,
)
from tricloud.emulate.hosts.runtimes import CloudFunction, ImageContainer
from tricloud.emulate.hosts.web import call

FUNCTION = "gcp:cloudfunctionsv2/function:Function"
OBJECT = "gcp:storage/bucketObject:BucketObject"


def split_gs(uri: str) -> tuple[str, str]:
    if not uri.startswith("gs://"):
        raise HostPlatformError(f"expected a gs:// URI, got {uri!r}")
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    return bucket, prefix


@dataclass
class GcpPlatform(HostPlatform):
    cloud: str = "gcp"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.gcs: GcsEmulator | None = None
        self.image: ImageContainer | None = None
        self.metadata: MetadataServer | None = None
        self.vertex: VertexApi | None = None
        self.function_host: CloudFunction | None = None
        self.model_version = ""
        self.project = ""

    def lake(self) -> None:
        with self.phase("lake") as info:
            self.gcs = self.keep(GcsEmulator())
            assert self.mocks is not None
            buckets = sorted(str(r.inputs["name"]) for r in self.mocks.of_type("gcp:storage/bucket:Bucket"))
            for name in buckets:
                self.gcs.create_bucket(name)
            info["buckets"] = buckets
            info["summary"] = f"GCS emulator {self.gcs.url} with buckets {', '.join(buckets)}"
        self.deviation(
            "DataLake",
            "Cloud Storage is gcp-storage-emulator in memory: no CMEK, no IAM conditions, no lifecycle rules; "
            "BigQuery (the curated table) is not emulated",
        )

    def data(self) -> None:
        assert self.gcs is not None
        with self.phase("data") as info:
            path = self.listings_csv()
            bucket, prefix = split_gs(self.outputs["raw_uri"])
            uri = self.gcs.upload(bucket, f"{prefix}{RAW_NAME}", path.read_bytes())
            info["uri"] = uri
            info["summary"] = f"{self.options.rows} listings -> {uri}"
        self.deviation(
            "SparkCluster",
            "Dataproc is not emulated: training reads the raw listings and builds "
            "the same features in Python (app.features; parity with the Spark job is tested)",
        )

    def read_object(self, store: str, name: str) -> bytes:
        assert self.gcs is not None
        return self.gcs.download(store, name)

    def write_object(self, store: str, name: str, data: bytes) -> None:
        assert self.gcs is not None
        self.gcs.upload(store, name, data)

    def train(self) -> None:
        with self.phase("train") as info:
            job_env = {
                "CLOUD_ML_JOB_ID": f"tricloud-train-{int(time.time())}",
                "AIP_MODEL_DIR": self.outputs["model_data_uri"],
            }
            self.train_in_image(
                info,
                raw=split_gs(self.details["data"]["uri"]),
                mount=self.workdir / "vertex",
                job_env=job_env,
                model_at=split_gs(self.outputs["model_data_uri"]),
                history_at=split_gs(self.outputs["training_output_uri"]),
            )
        self.deviation(
            "TrainingJob",
            "the custom job runs the image's `train` as a local process; the /gcs/ "
            "FUSE mount is replaced by copying the data in and the model folder out",
        )

    def serve(self) -> None:
        assert self.image is not None and self.gcs is not None
        with self.phase("serve") as info:
            fn = self.state(FUNCTION)
            self.project = str(fn["serviceConfig"]["environmentVariables"]["GOOGLE_CLOUD_PROJECT"])
            self.metadata = self.keep(
                MetadataServer(self.project, str(fn["serviceConfig"]["serviceAccountEmail"]))
            )
            endpoint_id = str(self.outputs["endpoint_name"])
            deployed_model_id = str(int(hashlib.sha256(self.model_version.encode()).hexdigest(), 16) % 10**18)
            # What Vertex sets for a custom container uploaded with the component's container spec.
            aip = {
                "AIP_MODE": "PREDICTION",
                "AIP_HTTP_PORT": str(VERTEX.port),
                "AIP_HEALTH_ROUTE": VERTEX.health_route,
                "AIP_PREDICT_ROUTE": VERTEX.predict_route,
                "AIP_STORAGE_URI": self.outputs["model_data_uri"].rstrip("/"),
                "AIP_ENDPOINT_ID": endpoint_id,
                "AIP_DEPLOYED_MODEL_ID": deployed_model_id,
                "AIP_PROJECT_NUMBER": self.project,
                "STORAGE_EMULATOR_HOST": self.gcs.url,
                **self.metadata.env(),
            }
            proc, url, ready = self.image.serve(aip)
            self.keep(proc)
            self.vertex = self.keep(VertexApi(self.project, self.region, self.metadata.token))
            self.vertex.deploy(
                DeployedModel(endpoint_id, deployed_model_id, "1", "tricloud", url, VERTEX.predict_route)
            )
            info.update(container=url, api=self.vertex.url, ready=ready)
            info["summary"] = (
                f"{ready.split(' on ')[0]} -> Vertex endpoint {endpoint_id} on {self.vertex.url}"
            )
        self.deviation(
            "ModelEndpoint",
            "the Vertex prediction API (predict, rawPredict, bearer token) is a loopback stand-in; the container "
            "reads AIP_STORAGE_URI from the artifacts bucket (Vertex copies it to its own) and binds 127.0.0.1 on "
            "an ephemeral port instead of AIP_HTTP_PORT; no autoscaling, no request-response logging",
        )

    def function(self) -> None:
        assert self.gcs is not None and self.metadata is not None and self.vertex is not None
        with self.phase("function") as info:
            fn = self.state(FUNCTION)
            source = fn["buildConfig"]["source"]["storageSource"]
            # the stack uploads other objects too (the drift job's code): the function's is the one its source names
            uploaded = [
                self.state(OBJECT, r.name)
                for r in self.mocks_of(OBJECT)
                if (r.state.get("bucket"), r.state.get("name")) == (source["bucket"], source["object"])
            ]
            if len(uploaded) != 1:
                raise HostPlatformError(
                    f"the function's source {source} is not the archive the stack uploads"
                )
            (obj,) = uploaded
            self.gcs.upload(str(obj["bucket"]), str(obj["name"]), archive_bytes(obj["source"]))
            # Cloud Build fetches the source from its bucket and installs requirements.txt.
            root = extract(
                self.gcs.download(str(source["bucket"]), str(source["object"])), self.workdir / "source"
            )
            env = {
                **{str(k): str(v) for k, v in fn["serviceConfig"]["environmentVariables"].items()},
                "VERTEX_API_ENDPOINT": self.vertex.url,
                **self.metadata.env(),
            }
            self.function_host = self.keep(
                CloudFunction(
                    root,
                    entry_point=str(fn["buildConfig"]["entryPoint"]),
                    runtime=str(fn["buildConfig"]["runtime"]),
                    name=str(fn["name"]),
                    env=env,
                    workdir=self.workdir,
                )
            )
            info.update(url=self.function_host.url, source=f"gs://{source['bucket']}/{source['object']}")
            info["summary"] = (
                f"{self.function_host.url} (functions-framework, {fn['buildConfig']['runtime']}, gs://{source['bucket']}/{source['object']})"
            )
        self.runtime_deviation("Cloud Function", self.function_host.venv.interpreter)
        self.deviation(
            "ApiFrontend",
            "the function runs under functions-framework (the Python host Cloud Run functions use) with Cloud "
            "Run's variables; API Gateway (API key, quota) is not emulated; VERTEX_API_ENDPOINT and the metadata "
            "server point the real google-auth and REST calls at loopback",
        )

    def predict(self, payload: Any) -> tuple[int, Any]:
        assert self.function_host is not None
        status, _, body = call(f"{self.function_host.url}/predict", payload)
        return status, body

    predict_label = "POST /predict"

    def outage_switch(self) -> Any:
        return self.vertex

    def frontend_process(self) -> Any:
        assert self.function_host is not None
        return self.function_host.proc
