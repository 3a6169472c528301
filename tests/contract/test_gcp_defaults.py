"""GCP's security defaults, checked on what stacks/gcp registers under the recording Pulumi mocks.

Each test reads the resources' inputs as the provider would receive them (camelCase), so a default that is
dropped, renamed or weakened in components/*/gcp.py fails here.
"""

from __future__ import annotations

import ast
import base64
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.api_frontend.gcp import ENTRY_POINT
from components.api_frontend.package import GCP_REQUIREMENTS, cloud_function_source, handler_files
from components.api_frontend.spec import HANDLERS
from components.concepts import CONCEPT_NAMES as CONCEPTS
from components.concepts import OPTIONAL_CONCEPT_NAMES
from components.data_lake.spec import DataLakeArgs, Zone
from components.errors import InvalidArgs
from tricloud.config import SECTIONS
from tricloud.inventory import build_inventory, stack_config
from tricloud.mocks import RecordingMocks, install

REPO = Path(__file__).resolve().parents[2]
KEY_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")

Inventory = dict[str, Any]


def variant(**sections: Any) -> dict[str, Any]:
    cfg = stack_config("gcp")
    cfg.update({f"tricloud:{k}": v for k, v in sections.items()})
    return cfg


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return build_inventory("gcp")


@pytest.fixture(scope="module")
def alt() -> Inventory:
    """Every non-default mode at once: Dataproc cluster, instance endpoint, JWT, e-mail alerts, ref-based CI."""
    return build_inventory(
        "gcp",
        config=variant(
            spark={"mode": "cluster", "idle_timeout_minutes": 20},
            endpoint={"mode": "instance", "min_instances": 2, "max_instances": 3, "data_capture_percent": 0},
            api={"auth": "jwt", "jwt_issuer": "https://login.example.com/", "jwt_audience": ["tricloud-api"]},
            observability={"alert_email": "ops@example.com"},
            ci={
                "github_repository": "acme/houses",
                "allowed_refs": ["refs/tags/v*"],
                "github_owner_id": 11,
                "github_repository_id": 22,
            },
            tags={"Team Name": "ML Platform", "CostCentre": "CC-42"},
        ),
    )


def of(inventory: Inventory, type_suffix: str) -> list[dict[str, Any]]:
    return [r for r in inventory["resources"] if r["type"].endswith(type_suffix)]


def one(inventory: Inventory, type_suffix: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in of(inventory, type_suffix) if name is None or r["name"] == name]
    assert len(found) == 1, f"{type_suffix} {name}: {[r['name'] for r in found]}"
    return found[0]


def api_document(inventory: Inventory) -> dict[str, Any]:
    cfg = one(inventory, "apigateway/apiConfig:ApiConfig")
    contents = cfg["inputs"]["openapiDocuments"][0]["document"]["contents"]
    return json.loads(base64.b64decode(contents))


# --- the stack as a whole --------------------------------------------------------------------------------------


def test_inventory_lists_every_concept_and_output(inv: Inventory) -> None:
    components = {r["type"] for r in inv["resources"] if r["type"].startswith("tricloud:")}
    # The dev config leaves the optional concepts (the Warehouse) off.
    assert components == {f"tricloud:gcp:{c}" for c in CONCEPTS if c not in OPTIONAL_CONCEPT_NAMES}
    import importlib

    expected = {"region"}
    for concept in ("data_lake", "spark_cluster", "training_job", "model_endpoint", "api_frontend"):
        expected |= set(importlib.import_module(f"components.{concept}.spec").OUTPUTS)
    expected |= set(importlib.import_module("components.observability.spec").OUTPUTS)
    expected |= set(importlib.import_module("components.ci_identity.spec").OUTPUTS)
    assert set(inv["outputs"]) == expected
    assert all(isinstance(v, str) for v in inv["outputs"].values()), inv["outputs"]
    assert len(SECTIONS) == len(CONCEPTS) + 1  # + `monitoring`: Observability.watch_model's settings


def test_every_child_has_a_component_parent(inv: Inventory) -> None:
    names = {r["name"] for r in inv["resources"]}
    orphans = [
        r["name"] for r in inv["resources"] if not r["type"].startswith("tricloud:") and not r["parent"]
    ]
    assert orphans == []
    assert all(r["parent"] in names for r in inv["resources"] if r["parent"])


def test_no_public_principal_anywhere(inv: Inventory) -> None:
    text = json.dumps(inv["resources"])
    assert "allUsers" not in text and "allAuthenticatedUsers" not in text


def test_apis_enabled_without_disable_on_destroy(inv: Inventory) -> None:
    services = {r["inputs"]["service"]: r["inputs"] for r in of(inv, "projects/service:Service")}
    for api in (
        "storage",
        "cloudkms",
        "bigquery",
        "dataproc",
        "aiplatform",
        "cloudfunctions",
        "apigateway",
        "sts",
    ):
        assert f"{api}.googleapis.com" in services
    assert all(s["disableOnDestroy"] is False for s in services.values())


def test_labels_are_normalised_and_standard(alt: Inventory) -> None:
    labelled = [r for r in alt["resources"] if r["inputs"].get("labels") and r["type"].startswith("gcp:")]
    assert len(labelled) > 10
    for r in labelled:
        labels = r["inputs"]["labels"]
        if r["type"].endswith("NotificationChannel"):
            continue  # channel `labels` are the channel's settings (topic, email); its tags are user_labels
        for k, v in labels.items():
            assert LABEL_KEY.fullmatch(k) and LABEL_VALUE.fullmatch(v), (r["name"], k, v)
        assert {"project", "stack", "component", "owner", "cost-center", "managed-by"} <= set(labels)
    bucket = one(alt, "storage/bucket:Bucket", "lake-raw")["inputs"]["labels"]
    assert bucket["team_name"] == "ml_platform" and bucket["costcentre"] == "cc-42"
    assert bucket["component"] == "datalake" and bucket["managed-by"] == "pulumi"


# --- DataLake ------------------------------------------------------------------------------------------------------


def test_buckets_uniform_access_no_public_cmek(inv: Inventory) -> None:
    key = inv["outputs"]["encryption_key"]
    buckets = of(inv, "storage/bucket:Bucket")
    assert {b["name"] for b in buckets} >= {"lake-raw", "lake-curated", "lake-artifacts", "lake-logs"}
    for b in buckets:
        i = b["inputs"]
        assert i["uniformBucketLevelAccess"] is True, b["name"]
        assert i["publicAccessPrevention"] == "enforced", b["name"]
        assert i["encryption"]["defaultKmsKeyName"] == key, b["name"]
        assert i["location"] == "ASIA-SOUTH1"


def test_zone_buckets_versioned_logged_tiered(inv: Inventory) -> None:
    defaults = DataLakeArgs()
    log_bucket = one(inv, "storage/bucket:Bucket", "lake-logs")["inputs"]["name"]
    for zone in Zone:
        i = one(inv, "storage/bucket:Bucket", f"lake-{zone.value}")["inputs"]
        assert i["versioning"] == {"enabled": True}
        assert i["logging"]["logBucket"] == log_bucket
        assert i["forceDestroy"] is False
        noncurrent = [r for r in i["lifecycleRules"] if r["condition"].get("daysSinceNoncurrentTime")]
        assert (
            noncurrent[0]["condition"]["daysSinceNoncurrentTime"] == defaults.noncurrent_version_expiry_days
        )
    raw = one(inv, "storage/bucket:Bucket", "lake-raw")["inputs"]
    cold = [r for r in raw["lifecycleRules"] if r["action"]["type"] == "SetStorageClass"]
    assert cold[0]["action"]["storageClass"] == "NEARLINE"
    assert cold[0]["condition"]["age"] == defaults.raw_cold_after_days
    writer = one(inv, "storage/bucketIAMMember:BucketIAMMember", "lake-logs-writer")["inputs"]
    assert writer["role"] == "roles/storage.objectCreator"
    assert writer["member"] == "group:cloud-storage-analytics@google.com"


def test_key_rotates_and_agents_hold_it(inv: Inventory) -> None:
    key = one(inv, "kms/cryptoKey:CryptoKey", "lake-key")["inputs"]
    assert key["rotationPeriod"] == f"{DataLakeArgs().key_rotation_days * 86400}s"
    # The alert topic's own key (Observability) has its own grant; every other grant is on the lake key.
    grants = [
        g["inputs"]
        for g in of(inv, "kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
        if g["name"] != "observability-key-pubsub-agent"
    ]
    assert all(g["role"] == KEY_ROLE and g["cryptoKeyId"] == inv["outputs"]["encryption_key"] for g in grants)
    agents = {g["member"].split("@")[1] for g in grants}
    assert agents == {
        "gs-project-accounts.iam.gserviceaccount.com",  # GCS buckets
        "bigquery-encryption.iam.gserviceaccount.com",  # BigQuery dataset
        "gcp-sa-aiplatform.iam.gserviceaccount.com",  # Vertex endpoint
        "gcp-sa-artifactregistry.iam.gserviceaccount.com",  # Docker repository
        "dataproc-accounts.iam.gserviceaccount.com",  # Dataproc batches and clusters
        "compute-system.iam.gserviceaccount.com",  # their persistent disks
    }
    # Buckets are created only after the GCS agent can use the key.
    raw = one(inv, "storage/bucket:Bucket", "lake-raw")
    assert "lake-key-gcs-agent" in raw["depends_on"]


def test_dataset_cmek_private_and_external_parquet_table(inv: Inventory) -> None:
    ds = one(inv, "bigquery/dataset:Dataset")["inputs"]
    assert ds["defaultEncryptionConfiguration"]["kmsKeyName"] == inv["outputs"]["encryption_key"]
    assert "accesses" not in ds  # only the project's IAM roles, never a public entry
    assert ds["location"] == "asia-south1"
    table = one(inv, "bigquery/table:Table")["inputs"]
    ext = table["externalDataConfiguration"]
    curated = inv["outputs"]["curated_uri"]
    assert ext["sourceFormat"] == "PARQUET" and ext["autodetect"] is False
    assert ext["sourceUris"] == [f"{curated}listings/*"]
    assert ext["hivePartitioningOptions"] == {
        "mode": "CUSTOM",
        "sourceUriPrefix": f"{curated}listings/{{city:STRING}}",
    }
    assert table["deletionProtection"] is True
    columns = {c["name"]: c["type"] for c in json.loads(ext["schema"])}
    assert columns["price_inr"] == "FLOAT" and columns["bedrooms"] == "INTEGER" and "city" not in columns


def test_partition_column_matches_the_feature_job() -> None:
    from components.data_lake.curated import PARTITION_COLUMN

    job = ast.parse(REPO.joinpath("app", "features", "job.py").read_text())
    assigned = {
        t.id: n.value.value
        for n in job.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert assigned["PARTITION_COLUMN"] == PARTITION_COLUMN


@pytest.fixture
def mocks() -> RecordingMocks:
    rec = install(RecordingMocks("gcp", "asia-south1"), project="tricloud-gcp", stack="dev")
    pulumi.runtime.set_all_config({"gcp:region": "asia-south1", "gcp:project": "unit-proj"})
    return rec


@pulumi.runtime.test
def test_grant_write_is_limited_to_the_prefix(mocks: RecordingMocks) -> Any:
    import pulumi_gcp.serviceaccount as serviceaccount

    from components.data_lake.gcp import DataLake

    lake = DataLake("lake", DataLakeArgs())
    sa = serviceaccount.Account("writer", account_id="unit-writer")
    grant = lake.grant_write(sa, zone=Zone.ARTIFACTS, prefix="models/")
    with pytest.raises(InvalidArgs, match="principal"):
        lake.grant_read("serviceAccount:someone@example.com", zone=Zone.RAW)  # type: ignore[arg-type]

    def check(values: list[Any]) -> None:
        condition, role, member, bucket = values
        assert role == "roles/storage.objectAdmin"
        assert member == "serviceAccount:unit-writer@unit-proj.iam.gserviceaccount.com"
        assert bucket == "unit-proj-dev-artifacts"
        assert f'startsWith("projects/_/buckets/{bucket}/objects/models/")' in condition["expression"]

    return pulumi.Output.all(grant.condition, grant.role, grant.member, grant.bucket).apply(check)


def test_missing_region_is_named(mocks: RecordingMocks, monkeypatch: pytest.MonkeyPatch) -> None:
    from components.data_lake.gcp import DataLake

    for var in ("GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"):
        monkeypatch.delenv(var, raising=False)
    pulumi.runtime.set_all_config({"gcp:project": "unit-proj"})
    with pytest.raises(InvalidArgs, match=r"gcp:region = None: is required"):
        DataLake("lake", DataLakeArgs())
    assert mocks.resources == [] or all(r.type == "tricloud:gcp:DataLake" for r in mocks.resources)


@pulumi.runtime.test
def test_watch_endpoint_filters_on_the_endpoint_id(mocks: RecordingMocks) -> Any:
    from components.observability.gcp import Observability
    from components.observability.spec import ObservabilityArgs

    obs = Observability("obs", ObservabilityArgs(endpoint_5xx_threshold=3))
    errors, latency = obs.watch_endpoint("1234567890", label="canary")

    def check(values: list[Any]) -> None:
        err_cond, lat_cond, name = values
        assert name == "tricloud-gcp-dev: Vertex endpoint prediction errors"
        assert 'resource.labels.endpoint_id = "1234567890"' in err_cond[0]["condition_threshold"]["filter"]
        assert err_cond[0]["condition_threshold"]["threshold_value"] == 3
        assert "prediction_latencies" in lat_cond[0]["condition_threshold"]["filter"]
        assert set(obs.native.policies) == {"canary-errors", "canary-latency-p99"}

    return pulumi.Output.all(errors.conditions, latency.conditions, errors.display_name).apply(check)


# --- SparkCluster --------------------------------------------------------------------------------------------------


def test_spark_network_is_private(inv: Inventory) -> None:
    subnet = one(inv, "compute/subnetwork:Subnetwork")["inputs"]
    assert subnet["privateIpGoogleAccess"] is True
    assert one(inv, "compute/network:Network")["inputs"]["autoCreateSubnetworks"] is False
    fw = one(inv, "compute/firewall:Firewall")["inputs"]
    assert fw["direction"] == "INGRESS" and fw["sourceRanges"] == [subnet["ipCidrRange"]]
    assert of(inv, "dataproc/cluster:Cluster") == [] and of(inv, "dataproc/batch:Batch") == []
    template = json.loads(inv["outputs"]["spark_application"])
    execution = template["environmentConfig"]["executionConfig"]
    assert execution["kmsKey"] == inv["outputs"]["encryption_key"]
    assert execution["serviceAccount"] == inv["outputs"]["spark_job_role"]
    assert execution["subnetworkUri"].endswith("/subnetworks/" + subnet["name"])
    assert template["runtimeConfig"]["version"] == "2.2"  # Spark 3.5


def test_dataproc_cluster_internal_cmek_idle_delete(alt: Inventory) -> None:
    cfg = one(alt, "dataproc/cluster:Cluster")["inputs"]["clusterConfig"]
    gce = cfg["gceClusterConfig"]
    assert gce["internalIpOnly"] is True
    assert gce["serviceAccount"] == alt["outputs"]["spark_job_role"]
    assert cfg["encryptionConfig"]["kmsKeyName"] == alt["outputs"]["encryption_key"]
    assert cfg["lifecycleConfig"]["idleDeleteTtl"] == "1200s"
    assert cfg["autoscalingConfig"]["policyUri"].endswith(
        "/autoscalingPolicies/tricloud-gcp-dev-spark-autoscaling"
    )
    members = {g["inputs"]["member"].split("@")[1] for g in of(alt, "cryptoKeyIAMMember:CryptoKeyIAMMember")}
    assert {"compute-system.iam.gserviceaccount.com", "dataproc-accounts.iam.gserviceaccount.com"} <= members


def test_spark_identity_reads_raw_writes_curated(inv: Inventory) -> None:
    sa = inv["outputs"]["spark_job_role"]
    grants = {
        (r["inputs"]["bucket"].rsplit("-", 1)[-1], r["inputs"]["role"])
        for r in of(inv, "storage/bucketIAMMember:BucketIAMMember")
        if r["inputs"]["member"] == f"serviceAccount:{sa}"
    }
    assert grants == {
        ("raw", "roles/storage.objectViewer"),
        ("curated", "roles/storage.objectAdmin"),
        ("artifacts", "roles/storage.objectAdmin"),
        (
            "artifacts",
            "roles/storage.objectViewer",
        ),  # the drift job's reads (capture, references, ground truth)
    }


# --- TrainingJob / ModelEndpoint -----------------------------------------------------------------------------------


def test_training_identity_least_privilege(inv: Inventory) -> None:
    member = f"serviceAccount:{inv['outputs']['training_role']}"
    grants = [r["inputs"] for r in inv["resources"] if r["inputs"].get("member") == member]
    roles = sorted(g["role"] for g in grants)
    assert roles == [
        "roles/logging.logWriter",
        "roles/storage.objectAdmin",  # artifacts, models/ only
        "roles/storage.objectAdmin",  # its own staging bucket
        "roles/storage.objectViewer",  # curated
    ]
    models = [g for g in grants if g.get("condition")]
    assert len(models) == 1 and 'objects/models/")' in models[0]["condition"]["expression"]


def test_repository_and_endpoint_use_the_lake_key(inv: Inventory) -> None:
    key = inv["outputs"]["encryption_key"]
    # Each CMEK resource waits for its service agent's key grant, or creation fails with a permission error.
    assert "training-key-artifactregistry" in one(inv, "artifactregistry/repository:Repository")["depends_on"]
    assert "training-key-aiplatform" in one(inv, "vertex/aiEndpoint:AiEndpoint")["depends_on"]
    repo = one(inv, "artifactregistry/repository:Repository")["inputs"]
    assert repo["format"] == "DOCKER" and repo["kmsKeyName"] == key
    assert repo["dockerConfig"] == {
        "immutableTags": True
    }  # a tag names one build: past versions stay reproducible
    endpoint = one(inv, "vertex/aiEndpoint:AiEndpoint")["inputs"]
    assert endpoint["encryptionSpec"] == {"kmsKeyName": key}
    assert endpoint["location"] == endpoint["region"] == "asia-south1"
    assert (
        re.fullmatch(r"[1-9]\d{9}", endpoint["name"]) and endpoint["name"] == inv["outputs"]["endpoint_name"]
    )
    # Serverless mode captures nothing by default (the spec's mode-based default); the output still names the table.
    assert "predictRequestResponseLoggingConfig" not in endpoint
    assert inv["outputs"]["capture_uri"].startswith("bq://") and inv["outputs"]["capture_uri"].endswith(
        ".request_response_logging"
    )
    assert inv["outputs"]["model_data_uri"].endswith("-artifacts/models/latest/")


def test_endpoint_policies_watch_the_endpoint(inv: Inventory) -> None:
    eid = inv["outputs"]["endpoint_name"]
    policies = {p["name"]: p["inputs"] for p in of(inv, "monitoring/alertPolicy:AlertPolicy")}
    assert set(policies) == {
        "observability-endpoint-errors",
        "observability-endpoint-latency-p99",
        "observability-function-errors",
        "observability-function-throttles",
        "observability-api-5xx",
        "observability-drift",
        "observability-fallback-rate",
    }
    latency = policies["observability-endpoint-latency-p99"]["conditions"][0]["conditionThreshold"]
    assert f'endpoint_id = "{eid}"' in latency["filter"]
    assert latency["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_99"
    assert latency["thresholdValue"] == 1000 and latency["duration"] == "180s"
    assert all(p["notificationChannels"] for p in policies.values())


def test_email_channel_only_when_configured(inv: Inventory, alt: Inventory) -> None:
    assert {c["inputs"]["type"] for c in of(inv, "NotificationChannel")} == {"pubsub"}
    email = [c["inputs"] for c in of(alt, "NotificationChannel") if c["inputs"]["type"] == "email"]
    assert email[0]["labels"] == {"email_address": "ops@example.com"}
    assert alt["outputs"]["alerts_channel"] != inv["outputs"]["alerts_channel"]


# --- ApiFrontend ---------------------------------------------------------------------------------------------------


def test_api_key_required_on_predict_only(inv: Inventory) -> None:
    doc = api_document(inv)
    assert doc["swagger"] == "2.0"
    assert doc["securityDefinitions"] == {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
    assert doc["paths"]["/predict"]["post"]["security"] == [{"api_key": []}]
    assert doc["paths"]["/health"]["get"]["security"] == []
    backend = doc["x-google-backend"]
    assert backend["address"].startswith("https://tricloud-gcp-dev-api-") and backend["address"].endswith(
        ".run.app"
    )
    assert backend["path_translation"] == "APPEND_PATH_TO_ADDRESS"
    limit = doc["x-google-management"]["quota"]["limits"][0]
    assert limit["values"] == {"STANDARD": 50 * 60} and limit["unit"] == "1/min/{project}"
    assert doc["paths"]["/predict"]["post"]["x-google-quota"] == {"metricCosts": {limit["metric"]: 1}}
    key = one(inv, "projects/apiKey:ApiKey")["inputs"]
    api = one(inv, "apigateway/api:Api")
    assert key["restrictions"]["apiTargets"][0]["service"].startswith(api["inputs"]["apiId"])


def test_openapi_schema_comes_from_app_schema(inv: Inventory) -> None:
    from app.schema import FIELD_NAMES, MAX_ROWS_PER_REQUEST

    defs = api_document(inv)["definitions"]
    listing = defs["HouseListing"]
    assert listing["required"] == list(FIELD_NAMES) and listing["additionalProperties"] is False
    instances = defs["PredictRequest"]["properties"]["instances"]
    assert instances["items"] == {"$ref": "#/definitions/HouseListing"}
    assert instances["maxItems"] == MAX_ROWS_PER_REQUEST
    assert "#/components/" not in json.dumps(defs)  # OpenAPI 3 refs rewritten for Swagger 2.0


def test_jwt_mode_validates_tokens_and_creates_no_key(alt: Inventory) -> None:
    doc = api_document(alt)
    jwt = doc["securityDefinitions"]["jwt"]
    assert jwt["x-google-issuer"] == "https://login.example.com/"
    assert jwt["x-google-audiences"] == "tricloud-api"
    assert doc["paths"]["/predict"]["post"]["security"] == [{"jwt": []}]
    assert of(alt, "projects/apiKey:ApiKey") == []


def test_function_is_private_and_predict_only(inv: Inventory) -> None:
    fn = one(inv, "cloudfunctionsv2/function:Function")["inputs"]
    svc, build = fn["serviceConfig"], fn["buildConfig"]
    assert build["runtime"] == "python312" and build["entryPoint"] == ENTRY_POINT
    assert svc["maxInstanceCount"] == 10 and svc["minInstanceCount"] == 0
    assert svc["availableMemory"] == "512M" and svc["timeoutSeconds"] == 10
    env = svc["environmentVariables"]
    assert env["VERTEX_ENDPOINT_ID"] == inv["outputs"]["endpoint_name"]
    assert env["GOOGLE_CLOUD_PROJECT"] == "tricloud-dev" and env["VERTEX_REGION"] == "asia-south1"
    assert {"ENDPOINT_TIMEOUT_MS", "ENDPOINT_MAX_ATTEMPTS", "FALLBACK_ENABLED", "LOG_LEVEL"} <= set(env)
    fn_member = f"serviceAccount:{svc['serviceAccountEmail']}"
    fn_grants = [r for r in inv["resources"] if r["inputs"].get("member") == fn_member]
    assert [g["type"] for g in fn_grants] == ["gcp:vertex/aiEndpointIamMember:AiEndpointIamMember"]
    assert fn_grants[0]["inputs"]["endpoint"] == inv["outputs"]["endpoint_name"]
    role = one(inv, "projects/iAMCustomRole:IAMCustomRole", "api-predict-role")["inputs"]
    assert role["permissions"] == ["aiplatform.endpoints.predict"]
    assert fn_grants[0]["inputs"]["role"].endswith("/roles/" + role["roleId"])
    invokers = [
        r["inputs"] for r in of(inv, "ServiceIamMember") if r["inputs"]["role"] == "roles/run.invoker"
    ]
    assert len(invokers) == 1 and "-api-gw@" in invokers[0]["member"]


def test_function_source_bucket_and_bundle(inv: Inventory) -> None:
    bucket = one(inv, "storage/bucket:Bucket", "api-source")["inputs"]
    assert bucket["encryption"]["defaultKmsKeyName"] == inv["outputs"]["encryption_key"]
    obj = one(inv, "storage/bucketObject:BucketObject", "api-source-zip")["inputs"]
    files = set(obj["source"]["archive"])
    assert {"main.py", "requirements.txt", "app/frontend/gcp_function.py", "app/schema.py"} <= files
    assert all(not f.startswith(("tricloud/", "components/")) for f in files)
    source = cloud_function_source()
    assert set(source.archive.assets) == files
    assert obj["name"].endswith(f"-{source.digest}.zip")
    # google.auth.transport.requests needs requests, which google-auth does not pull in.
    assert {r.split("==")[0] for r in GCP_REQUIREMENTS} == {"functions-framework", "google-auth", "requests"}
    assert obj["source"]["archive"]["requirements.txt"]["string_asset"].splitlines() == list(GCP_REQUIREMENTS)


def test_handler_module_defines_the_entry_point() -> None:
    module = REPO.joinpath(*HANDLERS["gcp"].split(".")).with_suffix(".py")
    tree = ast.parse(module.read_text())
    assert ENTRY_POINT in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    bundle = handler_files(HANDLERS["gcp"])
    imported = {
        n.module
        for path in bundle.values()
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("app")
    }
    assert all(
        f"{m.replace('.', '/')}.py" in bundle or f"{m.replace('.', '/')}/__init__.py" in bundle
        for m in imported
    )


# --- CiIdentity ----------------------------------------------------------------------------------------------------


def test_wif_condition_pins_subject_repository_ref_and_workflow(inv: Inventory, alt: Inventory) -> None:
    provider = one(inv, "WorkloadIdentityPoolProvider")["inputs"]
    assert provider["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    assert provider["attributeMapping"]["google.subject"] == "assertion.sub"
    clauses = provider["attributeCondition"].split(" || ")
    assert len(clauses) == 3  # preview, infrastructure, rollout
    assert clauses[1] == (
        '(assertion.sub == "repo:tricloud/tricloud:environment:dev" && '
        'assertion.repository == "tricloud/tricloud" && assertion.ref == "refs/heads/main" && '
        'assertion.job_workflow_ref == "tricloud/tricloud/.github/workflows/deploy-stack.yml@refs/heads/main")'
    )
    other = one(alt, "WorkloadIdentityPoolProvider")["inputs"]["attributeCondition"]
    assert 'assertion.sub == "repo:acme@11/houses@22:environment:dev"' in other
    assert 'assertion.ref.matches("^refs/tags/v.*$")' in other
    assert 'assertion.repository_id == "22" && assertion.repository_owner_id == "11"' in other
    # Each service account lets in the principal of its own subject only.
    users = {
        r["name"]: r["inputs"]
        for r in of(inv, "serviceaccount/iAMMember:IAMMember")
        if r["name"].endswith("wif-user")
    }
    assert set(users) == {"ci-preview-wif-user", "ci-infrastructure-wif-user", "ci-rollout-wif-user"}
    for duty, sub in (
        ("preview", "pull_request"),
        ("infrastructure", "environment:dev"),
        ("rollout", "environment:dev-model"),
    ):
        assert users[f"ci-{duty}-wif-user"]["role"] == "roles/iam.workloadIdentityUser"
        assert re.fullmatch(
            r"principal://iam\.googleapis\.com/projects/\d+/locations/global/workloadIdentityPools/"
            rf"[a-z0-9-]+/subject/repo:tricloud/tricloud:{sub}",
            users[f"ci-{duty}-wif-user"]["member"],
        ), duty


def test_ci_infrastructure_may_grant_only_the_stacks_own_project_roles(
    inv: Inventory, alt: Inventory
) -> None:
    from components.ci_identity.gcp import PROJECT_ROLES_THE_STACK_GRANTS

    granted = {
        r["inputs"]["role"]
        for i in (inv, alt)
        for r in of(i, "projects/iAMMember:IAMMember")
        if not r["name"].startswith("ci-")
    }
    assert granted == set(
        PROJECT_ROLES_THE_STACK_GRANTS
    )  # a new project grant must be added to the condition
    admin = one(inv, "projects/iAMMember:IAMMember", "ci-infrastructure-projectIamAdmin")["inputs"]
    assert admin["role"] == "roles/resourcemanager.projectIamAdmin"
    assert admin["condition"]["expression"] == (
        "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly("
        '["roles/artifactregistry.writer", "roles/dataproc.worker", "roles/logging.logWriter", '
        '"roles/dataproc.editor", "roles/monitoring.metricWriter", "roles/workflows.invoker"])'
    )


def test_ci_rollout_roles_limited_to_delivery(inv: Inventory) -> None:
    member = f"serviceAccount:{inv['outputs']['ci_rollout_identity']}"
    grants = {r["name"]: r["inputs"] for r in inv["resources"] if r["inputs"].get("member") == member}
    kinds = {n: r["type"].split(":")[-1] for n in grants for r in inv["resources"] if r["name"] == n}
    assert sorted(kinds.values()) == sorted(
        ["AiEndpointIamMember", "IAMMember", "IAMMember", "BucketIAMMember", "RepositoryIamMember"]
    )
    assert grants["ci-deploy"]["endpoint"] == inv["outputs"]["endpoint_name"]
    assert grants["ci-image-push"]["role"] == "roles/artifactregistry.writer"
    bucket = next(g for n, g in grants.items() if kinds[n] == "BucketIAMMember")
    assert (
        bucket["bucket"].endswith("-artifacts") and 'objects/models/")' in bucket["condition"]["expression"]
    )
    roles = {
        r["name"]: r["inputs"]["permissions"] for r in of(inv, "IAMCustomRole") if r["name"].startswith("ci-")
    }
    assert all(p.startswith(("aiplatform.", "apikeys.keys.")) for perms in roles.values() for p in perms)
    act_as = grants["ci-act-as-training"]
    assert act_as["role"] == "roles/iam.serviceAccountUser"
    assert inv["outputs"]["training_role"] in act_as["serviceAccountId"]
    preview = f"serviceAccount:{inv['outputs']['ci_preview_identity']}"
    assert {r["inputs"]["role"] for r in inv["resources"] if r["inputs"].get("member") == preview} == {
        "roles/viewer"
    }


def test_docs_config_reference_is_current() -> None:
    from tricloud.config import reference_markdown

    assert reference_markdown() in REPO.joinpath("docs", "gcp.md").read_text()


def test_handler_bundle_follows_package_imports(tmp_path: Path) -> None:
    for rel, text in {
        "app/__init__.py": "from app import util\n",  # a package importing its own module: no loop
        "app/util.py": "import json\n",
        "app/h/__init__.py": "",
        "app/h/fn.py": "from app import util, CONSTANT\nimport app.extra\n",
        "app/extra.py": "",
        "app/unused.py": "import numpy\n",
    }.items():
        tmp_path.joinpath(rel).parent.mkdir(parents=True, exist_ok=True)
        tmp_path.joinpath(rel).write_text(text)
    assert list(handler_files("app.h.fn", tmp_path)) == [
        "app/__init__.py",
        "app/extra.py",
        "app/h/__init__.py",
        "app/h/fn.py",
        "app/util.py",
    ]


def test_cors_origins_are_refused_by_name() -> None:
    with pytest.raises(
        InvalidArgs, match=r"cors_origins = \('https://app\.example\.com',\): is not supported on GCP"
    ):
        build_inventory("gcp", config=variant(api={"cors_origins": ["https://app.example.com"]}))


def test_api_documents_are_valid_swagger_2(inv: Inventory, alt: Inventory) -> None:
    # API Gateway rejects an invalid document only at `pulumi up`; the Swagger 2.0 validator sees it here.
    # Needs the dev extra's openapi-spec-validator.
    from openapi_spec_validator import OpenAPIV2SpecValidator, validate

    for inventory in (inv, alt):
        validate(api_document(inventory), cls=OpenAPIV2SpecValidator)
    broken = api_document(inv)
    broken["paths"]["/predict"]["post"]["parameters"][0]["schema"] = {"$ref": "#/definitions/Missing"}
    with pytest.raises(Exception, match="Missing"):
        validate(broken, cls=OpenAPIV2SpecValidator)


def test_serverless_batch_limits_follow_the_spend_ceiling() -> None:
    inventory = build_inventory("gcp", config=variant(spark={"max_vcpu": 32, "max_memory_gb": 64}))
    props = json.loads(inventory["outputs"]["spark_application"])["runtimeConfig"]["properties"]
    # 4-core driver + 7 executors x 4 cores = 32 vCPU; 2 GB per vCPU -> 7 GB per 4-core executor (10% overhead).
    assert props["spark.dynamicAllocation.maxExecutors"] == "7"
    assert props["spark.executor.cores"] == "4" and props["spark.executor.memory"] == "7g"


@pulumi.runtime.test
def test_training_and_endpoint_publish_their_cd_settings(mocks: RecordingMocks) -> Any:
    from components.data_lake.gcp import DataLake
    from components.model_endpoint.gcp import ModelEndpoint
    from components.model_endpoint.spec import EndpointMode, ModelEndpointArgs
    from components.observability.gcp import Observability
    from components.observability.spec import ObservabilityArgs
    from components.training_job.gcp import TrainingJob
    from components.training_job.spec import TrainingJobArgs

    lake = DataLake("lake", DataLakeArgs())
    training = TrainingJob(
        "training",
        TrainingJobArgs(max_runtime_minutes=90, use_spot=False, hyperparameters={"trees": "50"}),
        lake=lake,
    )
    endpoint = ModelEndpoint(
        "endpoint",
        ModelEndpointArgs(
            mode=EndpointMode.INSTANCE, instance_type="n1-highmem-2", min_instances=2, max_instances=4
        ),
        lake=lake,
        training=training,
        observability=Observability("obs", ObservabilityArgs()),
    )
    assert training.job_settings == {
        "machine_type": "n1-standard-4",
        "replica_count": 1,
        "timeout": "5400s",
        "strategy": "STANDARD",
        "args": ["--hp=trees=50"],
    }
    assert endpoint.deployment["machine_type"] == "n1-highmem-2"
    assert (endpoint.deployment["min_replica_count"], endpoint.deployment["max_replica_count"]) == (2, 4)

    def check(values: list[str]) -> None:
        image, output = values
        assert image == "asia-south1-docker.pkg.dev/unit-proj/tricloud-gcp-dev-images/tricloud-app:latest"
        assert output == "gs://unit-proj-dev-artifacts/models/"

    return pulumi.Output.all(training.training_image_uri, training.training_output_uri).apply(check)
