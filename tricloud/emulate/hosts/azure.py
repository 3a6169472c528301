"""`tricloud emulate azure`: the serving half of stacks/azure on loopback, each part under its real host.

inventory (the stack program under Pulumi mocks) -> lake (Azurite) -> data -> train (the image's `train` with an
Azure ML command job's inputs and outputs) -> serve (the image's entry point with Azure ML's model mount, behind
a loopback scoring URI with key auth) -> function (the Function App package from its blob, under the Python
worker) -> a prediction through the function -> the fallback when the endpoint fails.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from tricloud.emulate.hosts.azure_apis import AzureMlEndpoint, Azurite, Deployment
from tricloud.emulate.hosts.platform import (
    RAW_NAME,
    HostPlatform,
    HostPlatformError,
    archive_bytes,
    extract,
)
from tricloud.emulate.hosts.runtimes import AzureFunctionsHost, ImageContainer
from tricloud.emulate.hosts.web import call

ML = "azure-native:machinelearningservices"
KEY_VAULT_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\(.*\)$")


def container_of(uri: str) -> tuple[str, str]:
    """abfss://<filesystem>@<account>.dfs.core.windows.net/<path> -> (filesystem, path)."""
    m = re.match(r"^abfss://([^@]+)@[^/]+/?(.*)$", uri)
    if m is None:
        raise HostPlatformError(f"expected an abfss:// URI, got {uri!r}")
    return m.group(1), m.group(2)


@dataclass
class AzurePlatform(HostPlatform):
    cloud: str = "azure"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.azurite: Azurite | None = None
        self.image: ImageContainer | None = None
        self.endpoint: AzureMlEndpoint | None = None
        self.host: AzureFunctionsHost | None = None
        self.model_version = ""

    # --- lake -------------------------------------------------------------------------------------------------------

    def blobs(self) -> Any:
        assert self.azurite is not None
        return self.azurite.client()

    def lake(self) -> None:
        with self.phase("lake") as info:
            self.azurite = self.keep(Azurite(self.workdir))
            assert self.mocks is not None
            names = sorted(
                {
                    str(r.inputs["containerName"])
                    for r in self.mocks.of_type("azure-native:storage:BlobContainer")
                }
            )
            svc = self.blobs()
            for name in names:
                svc.create_container(name)
            info["containers"] = names
            info["summary"] = f"Azurite {self.azurite.url} with containers {', '.join(names)}"
        self.deviation(
            "DataLake",
            "ADLS Gen2 filesystems are Azurite blob containers: no hierarchical namespace (directories, renames, "
            "ACLs), no customer-managed key, no firewall; one Azurite account holds every storage account's data",
        )

    def data(self) -> None:
        with self.phase("data") as info:
            path = self.listings_csv()
            raw, prefix = container_of(self.outputs["raw_uri"])
            name = str(PurePosixPath(prefix) / RAW_NAME)
            self.write_object(raw, name, path.read_bytes())
            info.update(container=raw, blob=name)
            info["summary"] = f"{self.options.rows} listings -> {raw}/{name}"
        self.deviation(
            "SparkCluster",
            "Databricks is not emulated: training reads the raw listings and builds "
            "the same features in Python (app.features; parity with the Spark job is tested)",
        )

    # --- training ---------------------------------------------------------------------------------------------------

    def model_location(self) -> tuple[str, str, str, str]:
        """(container, prefix, model name, version) of the registered model, from the ModelVersion and Datastore."""
        model = self.state(f"{ML}:ModelVersion")
        uri = str(model["properties"]["modelUri"])
        m = re.match(r"^azureml://datastores/([^/]+)/paths/(.*)$", uri)
        if m is None:
            raise HostPlatformError(f"model_uri {uri!r} is not an azureml://datastores/... path")
        store = next(
            (r for r in self.mocks.of_type(f"{ML}:Datastore") if r.inputs.get("name") == m.group(1)),  # type: ignore[union-attr]
            None,
        )
        if store is None:
            raise HostPlatformError(f"no Datastore named {m.group(1)!r} in the stack")
        prefix = m.group(2).rstrip("/") + "/"
        return (
            str(store.inputs["properties"]["filesystem"]),
            prefix,
            str(model["name"]),
            str(model["version"]),
        )

    def read_object(self, store: str, name: str) -> bytes:
        return bytes(self.blobs().get_blob_client(store, name).download_blob().readall())

    def write_object(self, store: str, name: str, data: bytes) -> None:
        self.blobs().get_blob_client(store, name).upload_blob(data, overwrite=True)

    def train(self) -> None:
        with self.phase("train") as info:
            container, prefix, _, _ = self.model_location()
            history = container_of(self.outputs["training_output_uri"])
            self.train_in_image(
                info,
                raw=(self.details["data"]["container"], self.details["data"]["blob"]),
                mount=self.workdir / "azureml",
                job_env={"AZUREML_RUN_ID": f"tricloud-train-{int(time.time())}"},
                model_at=(container, prefix),
                history_at=(history[0], history[1].rstrip("/") + "/" if history[1] else ""),
            )
        self.deviation(
            "TrainingJob",
            "the command job runs the image's `train` as a local process (no AmlCompute); "
            "its input and output folders are copied from and to Azurite instead of mounted",
        )

    def serve(self) -> None:
        assert self.image is not None
        with self.phase("serve") as info:
            container, prefix, name, version = self.model_location()
            # Azure ML's layout: AZUREML_MODEL_DIR=/var/azureml-app/azureml-models/<model>/<version>, and the
            # registered folder (models/latest/ -> "latest") inside it.
            model_dir = self.workdir / "var" / "azureml-app" / "azureml-models" / name / version
            folder = model_dir / PurePosixPath(prefix.rstrip("/")).name
            folder.mkdir(parents=True)
            svc = self.blobs().get_container_client(container)
            for blob in svc.list_blobs(name_starts_with=prefix):
                target = folder / blob.name[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(svc.download_blob(blob.name).readall())
            proc, url, ready = self.image.serve({"AZUREML_MODEL_DIR": str(model_dir)})
            self.keep(proc)
            deployment = self.state(f"{ML}:OnlineDeployment")
            env = self.deployed_environment(str(deployment["properties"]["environmentId"]))["inferenceConfig"]
            endpoint_name = str(self.outputs["endpoint_name"])
            self.endpoint = self.keep(AzureMlEndpoint(endpoint_name))
            self.endpoint.deploy(
                Deployment(
                    name=str(deployment["deploymentName"]),
                    container_url=url,
                    readiness_route=str(env["readinessRoute"]["path"]),
                    scoring_route=str(env["scoringRoute"]["path"]),
                )
            )
            info.update(container=url, scoring_uri=self.endpoint.scoring_uri, ready=ready)
            info["summary"] = (
                f"{ready.split(' on ')[0]} -> endpoint {endpoint_name} {self.endpoint.scoring_uri}"
            )
        self.deviation(
            "ModelEndpoint",
            "the online endpoint is a loopback /score proxy with key auth in front of the container, which binds "
            "127.0.0.1 on an ephemeral port instead of 0.0.0.0:8080; no autoscale, no payload capture",
        )

    def deployed_environment(self, environment_id: str) -> dict[str, Any]:
        """The properties of the environment version a deployment names (the workspace has others: the drift job's)."""
        parts = environment_id.rstrip("/").split("/")
        name, version = parts[-3], parts[-1]  # .../environments/<name>/versions/<version>
        found = [
            self.state(f"{ML}:EnvironmentVersion", r.name)
            for r in self.mocks_of(f"{ML}:EnvironmentVersion")
            if (r.state.get("name"), str(r.state.get("version"))) == (name, version)
        ]
        if len(found) != 1:
            raise HostPlatformError(
                f"the deployment's environment {environment_id} is not one the stack declares"
            )
        return dict(found[0]["properties"])

    # --- the front-end ----------------------------------------------------------------------------------------------

    def function(self) -> None:
        with self.phase("function") as info:
            blob = self.state("azure-native:storage:Blob")
            container, name = str(blob["containerName"]), str(blob["blobName"])
            svc = self.blobs()
            svc.get_blob_client(container, name).upload_blob(archive_bytes(blob["source"]), overwrite=True)
            # WEBSITE_RUN_FROM_PACKAGE: the platform fetches the zip from the blob and runs it as it is.
            package = svc.get_blob_client(container, name).download_blob().readall()
            root = extract(package, self.workdir / "wwwroot")
            site = self.state("azure-native:web:WebApp")["siteConfig"]
            settings = self.app_settings(site["appSettings"])
            self.host = self.keep(
                AzureFunctionsHost(root, linux_fx_version=str(site["linuxFxVersion"]), app_settings=settings)
            )
            info.update(url=self.host.url, functions=self.host.functions, package=f"{container}/{name}")
            info["summary"] = f"{self.host.url}/api (package {container}/{name}; {self.host.functions})"
        self.runtime_deviation("Function App", self.host.venv.interpreter)
        self.deviation(
            "ApiFrontend",
            "the Function App runs under the real Python worker (azure-functions-runtime: indexing, bindings, "
            "invocation) driven by a stand-in for the .NET Functions host (routes, function keys, timeout); "
            "API Management is not emulated: call the function with its key",
        )
        self.deviation(
            "ApiFrontend",
            "the Key Vault reference in AZUREML_ENDPOINT_KEY and the scoring URI are "
            "resolved to the local endpoint by the emulator",
        )

    def app_settings(self, listed: list[dict[str, Any]]) -> dict[str, str]:
        assert self.endpoint is not None
        settings = {str(s["name"]): str(s["value"]) for s in listed}
        settings["AZUREML_ENDPOINT_URL"] = self.endpoint.scoring_uri
        if KEY_VAULT_REFERENCE.match(settings.get("AZUREML_ENDPOINT_KEY", "")):
            settings["AZUREML_ENDPOINT_KEY"] = self.endpoint.key
        return settings

    def predict_url(self) -> str:
        assert self.host is not None
        return f"{self.host.url}/api/predict"

    def predict(self, payload: Any) -> tuple[int, Any]:
        assert self.host is not None
        status, _, body = call(
            self.predict_url(), payload, headers={"x-functions-key": self.host.function_key}
        )
        return status, body

    predict_label = "POST /api/predict"

    def outage_switch(self) -> Any:
        return self.endpoint

    def frontend_process(self) -> Any:
        assert self.host is not None
        return self.host.proc
