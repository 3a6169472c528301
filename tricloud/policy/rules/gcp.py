"""GCP policies: Cloud Storage, IAM, Cloud KMS, BigQuery, VPC, Pub/Sub, Artifact Registry, Cloud Functions,
Vertex AI, Dataproc, Workload Identity Federation, API Gateway, labels.

checkov IDs are those of checkov's Terraform (google) index for the same setting; CIS controls are from the CIS
Google Cloud Platform Foundation Benchmark v4.0.0.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping

import yaml

from tricloud.policy.model import ADVISORY, MANDATORY, Res, Stack, as_list, dig, resource_rule, stack_rule
from tricloud.policy.rules.common import missing_standard_tags, plaintext_secrets

CIS = "CIS GCP Foundation 4.0.0"
BUCKET = "gcp:storage/bucket:Bucket"
KMS_KEY = "gcp:kms/cryptoKey:CryptoKey"
DATASET = "gcp:bigquery/dataset:Dataset"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
TOPIC = "gcp:pubsub/topic:Topic"
REGISTRY = "gcp:artifactregistry/repository:Repository"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
VERTEX_ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
DATAPROC_CLUSTER = "gcp:dataproc/cluster:Cluster"
WIF_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
API_CONFIG = "gcp:apigateway/apiConfig:ApiConfig"
API_KEY = "gcp:projects/apiKey:ApiKey"
PROJECT_IAM = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding")
KEY_ROTATION_MAX_SECONDS = 90 * 86400
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
IMPERSONATION_ROLES = ("roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator")


# --- Cloud Storage ------------------------------------------------------------------------------------------------


@resource_rule(
    "gcp-gcs-cmek",
    types=(BUCKET,),
    title="Cloud Storage buckets encrypt by default with a customer-managed Cloud KMS key",
    level=MANDATORY,
    remediation="Set encryption.default_kms_key_name (components/data_lake/gcp.secure_bucket does).",
)
def _gcs_cmek(r: Res) -> Iterator[str]:
    if not r.get("encryption", "defaultKmsKeyName"):
        yield "is encrypted with Google-managed keys"


@resource_rule(
    "gcp-gcs-uniform-access",
    types=(BUCKET,),
    title="Cloud Storage buckets use uniform bucket-level access (IAM only, no object ACLs)",
    level=MANDATORY,
    checkov=("CKV_GCP_29",),
    cis=f"{CIS} 5.2",
    remediation="Set uniform_bucket_level_access true.",
)
def _gcs_uniform(r: Res) -> Iterator[str]:
    if r.get("uniformBucketLevelAccess") is not True:
        yield "object ACLs can grant access outside IAM"


@resource_rule(
    "gcp-gcs-public-access-prevention",
    types=(BUCKET,),
    title="Cloud Storage buckets enforce public access prevention",
    level=MANDATORY,
    checkov=("CKV_GCP_114",),
    cis=f"{CIS} 5.1",
    remediation="Set public_access_prevention enforced.",
)
def _gcs_pap(r: Res) -> Iterator[str]:
    if r.get("publicAccessPrevention") != "enforced":
        yield "an allUsers grant could make it public"


SCRATCH_MAX_AGE_DAYS = 30  # a bucket that deletes every object within a month holds nothing worth a version


@resource_rule(
    "gcp-gcs-versioning",
    types=(BUCKET,),
    title="Cloud Storage buckets keep object versions",
    level=ADVISORY,
    checkov=("CKV_GCP_78",),
    remediation=(
        "Set versioning.enabled (tricloud:lake.versioning); scratch buckets, whose lifecycle deletes every object "
        f"within {SCRATCH_MAX_AGE_DAYS} days, are exempt."
    ),
)
def _gcs_versioning(r: Res) -> Iterator[str]:
    if r.get("versioning", "enabled") is not True and not _scratch(r):
        yield "overwrites and deletes cannot be undone"


def _scratch(r: Res) -> bool:
    """Every object is deleted by age alone (no other condition narrows the rule): the bucket is scratch space."""
    return any(
        dig(rule, "action", "type") == "Delete"
        and set(dig(rule, "condition", default={}) or {}) == {"age"}
        and 0 < int(dig(rule, "condition", "age")) <= SCRATCH_MAX_AGE_DAYS
        for rule in as_list(r.get("lifecycleRules"))
    )


@stack_rule(
    "gcp-gcs-access-logging",
    title="Cloud Storage buckets write usage logs to a log bucket (the log bucket itself excepted)",
    level=ADVISORY,
    checkov=("CKV_GCP_62", "CKV_GCP_63"),
    remediation="Set logging.log_bucket to the lake's access-log bucket (tricloud:lake.access_logging).",
)
def _gcs_logging(s: Stack) -> Iterator[tuple[Res, str]]:
    buckets = s.of_type(BUCKET)
    log_buckets = {str(b.get("logging", "logBucket")) for b in buckets if b.get("logging", "logBucket")}
    for b in buckets:
        target = b.get("logging", "logBucket")
        if target and target == b.get("name"):
            yield b, "logs to itself"
        elif not target and b.get("name") not in log_buckets:
            yield b, "writes no usage logs"


# --- IAM ----------------------------------------------------------------------------------------------------------


def _members(r: Res) -> list[str]:
    return [str(m) for m in (*as_list(r.get("member")), *as_list(r.get("members")))]


@resource_rule(
    "gcp-iam-no-public-members",
    types=("gcp:*",),
    title="No IAM grant or dataset access entry names allUsers or allAuthenticatedUsers",
    level=MANDATORY,
    checkov=(
        "CKV_GCP_15",
        "CKV_GCP_28",
        "CKV_GCP_99",
        "CKV_GCP_101",
        "CKV_GCP_102",
        "CKV_GCP_107",
        "CKV_GCP_112",
        "CKV2_GCP_6",
    ),
    cis=f"{CIS} 1.9, 5.1, 7.1",
    remediation="Grant a service account or group; public data belongs outside the platform.",
)
def _public_members(r: Res) -> Iterator[str]:
    public = [m for m in _members(r) if m in PUBLIC_MEMBERS]
    if public:
        yield f"grants {r.get('role')} to {', '.join(public)}"
    if r.type == DATASET:
        for entry in as_list(r.get("accesses")):
            if (
                dig(entry, "specialGroup") == "allAuthenticatedUsers"
                or dig(entry, "iamMember") in PUBLIC_MEMBERS
            ):
                yield "a dataset access entry is public"


@resource_rule(
    "gcp-iam-project-roles",
    types=PROJECT_IAM,
    title="Project-level grants use no basic role, no service-account impersonation role, and give service "
    "accounts no admin role",
    level=MANDATORY,
    checkov=("CKV_GCP_117", "CKV_GCP_41", "CKV_GCP_49", "CKV_GCP_42"),
    cis=f"{CIS} 1.5, 1.6",
    remediation="Grant a predefined or custom role on the resource (bucket, endpoint, service account) instead.",
)
def _project_roles(r: Res) -> Iterator[str]:
    role = str(r.get("role") or "")
    if role in BASIC_ROLES:
        yield f"grants the basic role {role}"
    if role in IMPERSONATION_ROLES:
        yield f"grants {role} on every service account of the project"
    if any(m.startswith("serviceAccount:") for m in _members(r)) and re.search(
        r"admin$", role, re.IGNORECASE
    ):
        yield f"gives a service account the admin role {role}"


# --- KMS, BigQuery, Pub/Sub, Artifact Registry ------------------------------------------------------------------


def _seconds(duration: object) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(duration or ""))
    return float(m.group(1)) if m else None


@resource_rule(
    "gcp-kms-rotation",
    types=(KMS_KEY,),
    title="Cloud KMS encryption keys rotate automatically at least every 90 days",
    level=MANDATORY,
    checkov=("CKV_GCP_43",),
    cis=f"{CIS} 1.10",
    remediation="Set rotation_period <= 7776000s (tricloud:lake.key_rotation_days, default 90).",
)
def _kms_rotation(r: Res) -> Iterator[str]:
    if (r.get("purpose") or "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        return  # Cloud KMS rotates symmetric encryption keys only
    seconds = _seconds(r.get("rotationPeriod"))
    if seconds is None:
        yield "has no automatic rotation"
    elif seconds > KEY_ROTATION_MAX_SECONDS:
        yield f"rotates every {seconds / 86400:g} days, more than 90"


@resource_rule(
    "gcp-bigquery-cmek",
    types=(DATASET,),
    title="BigQuery datasets encrypt new tables with a customer-managed key by default",
    level=MANDATORY,
    checkov=("CKV_GCP_81",),
    cis=f"{CIS} 7.3",
    remediation="Set default_encryption_configuration.kms_key_name to the lake key.",
)
def _bq_cmek(r: Res) -> Iterator[str]:
    if not r.get("defaultEncryptionConfiguration", "kmsKeyName"):
        yield "new tables are encrypted with Google-managed keys"


@resource_rule(
    "gcp-pubsub-cmek",
    types=(TOPIC,),
    title="Pub/Sub topics encrypt messages with a customer-managed key",
    level=MANDATORY,
    checkov=("CKV_GCP_83",),
    remediation="Set kms_key_name and grant the Pub/Sub service agent cryptoKeyEncrypterDecrypter on the key.",
)
def _pubsub_cmek(r: Res) -> Iterator[str]:
    if not r.get("kmsKeyName"):
        yield "messages are encrypted with Google-managed keys"


@resource_rule(
    "gcp-artifact-registry-cmek",
    types=(REGISTRY,),
    title="Artifact Registry repositories encrypt images with a customer-managed key",
    level=MANDATORY,
    checkov=("CKV_GCP_84",),
    remediation="Set kms_key_name and grant the Artifact Registry service agent the key.",
)
def _registry_cmek(r: Res) -> Iterator[str]:
    if not r.get("kmsKeyName"):
        yield "images are encrypted with Google-managed keys"


@resource_rule(
    "gcp-artifact-registry-immutable-tags",
    types=(REGISTRY,),
    title="Docker repositories make tags immutable (a pushed tag always names the same image)",
    level=MANDATORY,
    remediation="Set docker_config.immutable_tags true and deploy by digest or a unique tag.",
)
def _registry_immutable(r: Res) -> Iterator[str]:
    if (r.get("format") or "DOCKER").upper() == "DOCKER" and r.get(
        "dockerConfig", "immutableTags"
    ) is not True:
        yield "tags are mutable: a push can silently replace the image a model runs"


# --- network ------------------------------------------------------------------------------------------------------


@resource_rule(
    "gcp-subnet-flow-logs",
    types=(SUBNET,),
    title="VPC subnets record flow logs",
    level=MANDATORY,
    checkov=("CKV_GCP_26",),
    cis=f"{CIS} 3.8",
    remediation="Set log_config (tricloud:spark.gcp.flow_log_sampling_percent, default 100; 0 turns them off).",
)
def _flow_logs(r: Res) -> Iterator[str]:
    if r.get("purpose") in ("REGIONAL_MANAGED_PROXY", "GLOBAL_MANAGED_PROXY", "PRIVATE_SERVICE_CONNECT"):
        return  # proxy-only and PSC subnets carry no VM traffic and accept no flow logs
    if not r.get("logConfig"):
        yield "records no flow logs"


@resource_rule(
    "gcp-subnet-private-google-access",
    types=(SUBNET,),
    title="VPC subnets reach Google APIs privately (Private Google Access), so VMs need no external IP",
    level=ADVISORY,
    checkov=("CKV_GCP_74",),
    remediation="Set private_ip_google_access true.",
)
def _private_access(r: Res) -> Iterator[str]:
    if r.get("purpose") in (None, "PRIVATE") and r.get("privateIpGoogleAccess") is not True:
        yield "VMs without external IPs cannot reach Google APIs"


@resource_rule(
    "gcp-firewall-no-open-ingress",
    types=(FIREWALL,),
    title="Firewall rules admit no traffic from the whole internet (0.0.0.0/0, ::/0)",
    level=MANDATORY,
    checkov=("CKV_GCP_2", "CKV_GCP_3", "CKV2_GCP_12"),
    cis=f"{CIS} 3.6, 3.7",
    remediation="Limit source_ranges to the subnet (or IAP's 35.235.240.0/20 for SSH through IAP).",
)
def _firewall(r: Res) -> Iterator[str]:
    if (r.get("direction") or "INGRESS") != "INGRESS" or not as_list(r.get("allows")) or r.get("disabled"):
        return
    world = [c for c in as_list(r.get("sourceRanges")) if c in ("0.0.0.0/0", "::/0")]
    if world:
        yield f"admits {', '.join(world)}"


# --- functions, APIs, Vertex, Dataproc, identity ------------------------------------------------------------------


@resource_rule(
    "gcp-function-ingress",
    types=(FUNCTION,),
    title="Cloud Functions accept traffic from inside the project (or a load balancer) only",
    level=ADVISORY,
    checkov=("CKV_GCP_124",),
    remediation="Set service_config.ingress_settings ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB; a function "
    "API Gateway calls needs ALLOW_ALL (declare it as an exception, IAM still guards it).",
)
def _function_ingress(r: Res) -> Iterator[str]:
    if (r.get("serviceConfig", "ingressSettings") or "ALLOW_ALL") == "ALLOW_ALL":
        yield "accepts traffic from the internet (its IAM invoker check is the only gate)"


@resource_rule(
    "gcp-function-no-plaintext-secrets",
    types=(FUNCTION,),
    title="Cloud Functions environment variables hold no credentials (use Secret Manager)",
    level=MANDATORY,
    cis=f"{CIS} 1.17",
    remediation="Move the credential to Secret Manager and use service_config.secret_environment_variables.",
)
def _function_secrets(r: Res) -> Iterator[str]:
    yield from plaintext_secrets(r.get("serviceConfig", "environmentVariables"))
    yield from plaintext_secrets(r.get("buildConfig", "environmentVariables"))


def _openapi_specs(r: Res) -> Iterator[Mapping]:
    """The OpenAPI documents of an API config (base64 YAML or JSON)."""
    for doc in as_list(r.get("openapiDocuments")):
        contents = dig(doc, "document", "contents")
        try:
            spec = yaml.safe_load(base64.b64decode(str(contents)).decode())
        except (binascii.Error, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(spec, Mapping):
            yield spec


def _openapi_operations(spec: Mapping) -> Iterator[tuple[str, Mapping]]:
    for path, item in (spec.get("paths") or {}).items():
        for method, op in (item or {}).items():
            if method.lower() in ("get", "put", "post", "delete", "patch", "head", "options"):
                yield f"{method.upper()} {path}", op if isinstance(op, Mapping) else {}


@resource_rule(
    "gcp-api-gateway-backend-tls",
    types=(API_CONFIG,),
    title="API Gateway calls its backends over HTTPS only",
    level=MANDATORY,
    remediation="Give x-google-backend an https:// address (Cloud Functions and Cloud Run URLs are https).",
)
def _gateway_backend_tls(r: Res) -> Iterator[tuple[str, str]]:
    for spec in _openapi_specs(r):
        backends = [("all operations", spec.get("x-google-backend"))]
        backends += [(name, op.get("x-google-backend")) for name, op in _openapi_operations(spec)]
        for item, backend in backends:
            address = str(dig(backend, "address", default=""))
            if address and not address.startswith("https://"):
                yield item, f"reaches its backend {address} without TLS"


@resource_rule(
    "gcp-api-gateway-auth",
    types=(API_CONFIG,),
    title="API Gateway operations require credentials (API key or JWT)",
    level=MANDATORY,
    remediation="Give the operation a security requirement (api_key or a JWT provider); declare a deliberately "
    "open operation as an exception (with item) under tricloud:policy.",
)
def _gateway_auth(r: Res) -> Iterator[tuple[str, str]]:
    for spec in _openapi_specs(r):
        default = spec.get("security") or []
        for operation, op in _openapi_operations(spec):
            # Requirements are alternatives; an empty one ({}) lets anonymous callers in.
            requirements = as_list(op.get("security", default))
            if not (requirements and all(requirements)):
                yield operation, "is open to anonymous callers"


@resource_rule(
    "gcp-api-keys-restricted",
    types=(API_KEY,),
    title="API keys are restricted to the APIs that need them",
    level=MANDATORY,
    cis=f"{CIS} 1.14",
    remediation="Set restrictions.api_targets to the gateway's managed service.",
)
def _api_key(r: Res) -> Iterator[str]:
    if not r.get("restrictions", "apiTargets"):
        yield "works for every API the project enables"


@resource_rule(
    "gcp-vertex-endpoint-cmek",
    types=(VERTEX_ENDPOINT,),
    title="Vertex AI endpoints encrypt with a customer-managed key",
    level=MANDATORY,
    checkov=("CKV2_GCP_24",),
    remediation="Set encryption_spec.kms_key_name to the lake key.",
)
def _vertex_cmek(r: Res) -> Iterator[str]:
    if not r.get("encryptionSpec", "kmsKeyName"):
        yield "is encrypted with Google-managed keys"


@resource_rule(
    "gcp-vertex-endpoint-private",
    types=(VERTEX_ENDPOINT,),
    title="Vertex AI endpoints are private (Private Service Connect or a peered network)",
    level=ADVISORY,
    checkov=("CKV2_GCP_33",),
    remediation="Set private_service_connect_config (or network) and call the endpoint from inside the VPC.",
)
def _vertex_private(r: Res) -> Iterator[str]:
    if not (r.get("privateServiceConnectConfig", "enablePrivateServiceConnect") or r.get("network")):
        yield "is reachable from the internet (IAM-protected)"


@resource_rule(
    "gcp-dataproc-cluster-hardening",
    types=(DATAPROC_CLUSTER,),
    title="Dataproc clusters encrypt disks with a customer-managed key and give VMs internal IPs only",
    level=MANDATORY,
    checkov=("CKV_GCP_91", "CKV_GCP_103"),
    cis=f"{CIS} 8.1",
    remediation="Set cluster_config.encryption_config.kms_key_name and gce_cluster_config.internal_ip_only.",
)
def _dataproc(r: Res) -> Iterator[str]:
    cfg = r.get("clusterConfig", default={})
    if not dig(cfg, "encryptionConfig", "kmsKeyName"):
        yield "disks are encrypted with Google-managed keys"
    if dig(cfg, "gceClusterConfig", "internalIpOnly") is not True:
        yield "VMs get external IPs"


GITHUB_ISSUER = "token.actions.githubusercontent.com"
REPOSITORY_CLAIMS = re.compile(r"assertion\.(repository|repository_id|repository_owner_id|sub)\b")


@resource_rule(
    "gcp-wif-provider-restricted",
    types=(WIF_PROVIDER,),
    title="Workload identity providers restrict which tokens they accept (GitHub: one repository)",
    level=MANDATORY,
    checkov=("CKV_GCP_118", "CKV_GCP_125"),
    remediation="Set attribute_condition to the repository (and environment/ref) that may deploy "
    "(tricloud:ci.github_repository).",
)
def _wif(r: Res) -> Iterator[str]:
    condition = str(r.get("attributeCondition") or "")
    if not condition:
        yield "accepts every token its issuer signs (no attribute_condition)"
    elif GITHUB_ISSUER in str(r.get("oidc", "issuerUri")) and not REPOSITORY_CLAIMS.search(condition):
        yield "accepts GitHub tokens of any repository"


@resource_rule(
    "gcp-labels",
    types=("gcp:*",),
    title="Labelled GCP resources carry the standard labels (project, stack, component, owner, cost-center, "
    "managed-by)",
    level=MANDATORY,
    remediation="Create resources through the components (component_tags) or pass the standard labels.",
)
def _gcp_labels(r: Res) -> Iterator[str]:
    # Where a type has userLabels (monitoring), its `labels` are settings (a channel's topic), not labels.
    yield from missing_standard_tags(r, "userLabels" if "userLabels" in r.props else "labels")
