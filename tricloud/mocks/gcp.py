"""What GCP computes for the resources and invokes of stacks/gcp, so the program runs under Pulumi mocks.

`computed_state` answers `new_resource` (id + the outputs dependants read: names, emails, self links, URIs);
`invoke` answers the data sources the components call (project, service agents). Values follow the real
formats (projects/<p>/locations/<r>/..., <sa>@<p>.iam.gserviceaccount.com) so conditions and members built
from them look exactly as they would in the cloud. Inputs arrive camelCase.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

DEFAULT_PROJECT = "tricloud-dev"


def project_id(inputs: dict[str, Any] | None = None) -> str:
    if inputs and inputs.get("project"):
        return str(inputs["project"])
    try:
        from pulumi.runtime.config import get_config

        return get_config("gcp:project") or DEFAULT_PROJECT
    except Exception:  # config not initialised (a bare unit call): the documented default
        return DEFAULT_PROJECT


def project_number(project: str) -> str:
    """A stable 12-digit number per project id, like GCP's."""
    return str(int(hashlib.sha256(project.encode()).hexdigest(), 16) % 10**12).rjust(12, "1")


def _loc(inputs: dict[str, Any], region: str) -> str:
    return str(inputs.get("location") or inputs.get("region") or region)


def _named(inputs: dict[str, Any], name: str, *keys: str) -> str:
    for k in keys:
        if inputs.get(k):
            return str(inputs[k])
    return name


Handler = Callable[[str, dict[str, Any], str, str], tuple[str, dict[str, Any]]]


def _service(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    return f"{p}/{i['service']}", {"project": p}


def _bucket(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    b = _named(i, name, "name")
    return b, {
        "name": b,
        "project": p,
        "url": f"gs://{b}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{b}",
        "storageClass": i.get("storageClass") or "STANDARD",
    }


def _bucket_object(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    obj = _named(i, name, "name")
    return f"{i.get('bucket')}-{obj}", {
        "name": obj,
        "outputName": obj,
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{i.get('bucket')}/o/{obj}",
        "generation": 1,
    }


def _key_ring(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    rid = f"projects/{p}/locations/{_loc(i, region)}/keyRings/{_named(i, name, 'name')}"
    return rid, {"project": p}


def _crypto_key(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    return f"{i['keyRing']}/cryptoKeys/{_named(i, name, 'name')}", {}


def _service_account(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    account = _named(i, name, "accountId")
    email = f"{account}@{p}.iam.gserviceaccount.com"
    return f"projects/{p}/serviceAccounts/{email}", {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{p}/serviceAccounts/{email}",
        "uniqueId": project_number(email)[:12] + "000000000",
        "project": p,
    }


def _dataset(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    ds = _named(i, name, "datasetId")
    return f"projects/{p}/datasets/{ds}", {
        "datasetId": ds,
        "project": p,
        "selfLink": f"https://bigquery.googleapis.com/bigquery/v2/projects/{p}/datasets/{ds}",
    }


def _table(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    return f"projects/{p}/datasets/{i.get('datasetId')}/tables/{i.get('tableId')}", {"project": p}


def _connection(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    cid = _named(i, name, "connectionId")
    rid = f"projects/{p}/locations/{_loc(i, region)}/connections/{cid}"
    # Google creates a service account per cloud-resource connection (BigLake reads storage as it).
    sa = f"bqcx-{project_number(p)}-{cid[:4]}@gcp-sa-bigquery-condel.iam.gserviceaccount.com"
    return rid, {
        "name": rid,
        "connectionId": cid,
        "hasCredential": False,
        "cloudResource": {"serviceAccountId": sa},
    }


def _regional(collection: str, *name_keys: str) -> Handler:
    def handler(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
        short = _named(i, name, *name_keys)
        rid = f"projects/{p}/{collection.format(loc=_loc(i, region))}/{short}"
        return rid, {"name": short, "project": p, "selfLink": f"https://www.googleapis.com/compute/v1/{rid}"}

    return handler


def _network(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    n = _named(i, name, "name")
    rid = f"projects/{p}/global/networks/{n}"
    return rid, {"name": n, "selfLink": f"https://www.googleapis.com/compute/v1/{rid}", "project": p}


def _dataproc_cluster(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    n = _named(i, name, "name")
    return f"projects/{p}/regions/{_loc(i, region)}/clusters/{n}", {"name": n, "project": p}


def _autoscaling(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    pid = _named(i, name, "policyId")
    rid = f"projects/{p}/regions/{_loc(i, region)}/autoscalingPolicies/{pid}"
    return rid, {"name": rid, "project": p}


def _repository(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    repo = _named(i, name, "repositoryId")
    rid = f"projects/{p}/locations/{_loc(i, region)}/repositories/{repo}"
    return rid, {"name": repo, "project": p, "registryUri": f"{_loc(i, region)}-docker.pkg.dev/{p}/{repo}"}


def _ai_endpoint(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    eid = _named(i, name, "name")
    rid = f"projects/{p}/locations/{_loc(i, region)}/endpoints/{eid}"
    return rid, {"name": eid, "project": p, "createTime": "2026-11-29T00:00:00Z"}


def _function(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    fn = _named(i, name, "name")
    loc = _loc(i, region)
    url = f"https://{fn}-{project_number(p)[:10]}.{loc}.run.app"
    service_config = dict(i.get("serviceConfig") or {})
    service_config.update({"uri": url, "service": f"projects/{p}/locations/{loc}/services/{fn}"})
    return f"projects/{p}/locations/{loc}/functions/{fn}", {
        "name": fn,
        "url": url,
        "state": "ACTIVE",
        "environment": "GEN_2",
        "serviceConfig": service_config,
        "project": p,
    }


def _api(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    api = _named(i, name, "apiId")
    return f"projects/{p}/locations/global/apis/{api}", {
        "apiId": api,
        "name": f"projects/{p}/locations/global/apis/{api}",
        "managedService": f"{api}-{project_number(p)[:6]}x.apigateway.{p}.cloud.goog",
        "project": p,
    }


def _api_config(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    cid = _named(i, name, "apiConfigId")
    rid = f"projects/{p}/locations/global/apis/{i.get('api')}/configs/{cid}"
    return rid, {"apiConfigId": cid, "name": rid, "serviceConfigId": f"{cid}-0", "project": p}


def _gateway(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    gw = _named(i, name, "gatewayId")
    loc = _loc(i, region)
    return f"projects/{p}/locations/{loc}/gateways/{gw}", {
        "gatewayId": gw,
        "name": f"projects/{p}/locations/{loc}/gateways/{gw}",
        "defaultHostname": f"{gw}-{project_number(p)[:8]}.{loc[:2]}.gateway.dev",
        "project": p,
    }


def _api_key(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    k = _named(i, name, "name")
    return f"projects/{p}/locations/global/keys/{k}", {"name": k, "uid": project_number(k), "keyString": ""}


def _pool(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    pool = i["workloadIdentityPoolId"]
    rid = f"projects/{project_number(p)}/locations/global/workloadIdentityPools/{pool}"
    return rid, {"name": rid, "state": "ACTIVE", "project": p}


def _pool_provider(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    rid = (
        f"projects/{project_number(p)}/locations/global/workloadIdentityPools/"
        f"{i['workloadIdentityPoolId']}/providers/{i['workloadIdentityPoolProviderId']}"
    )
    return rid, {"name": rid, "state": "ACTIVE", "project": p}


def _custom_role(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    rid = f"projects/{p}/roles/{i['roleId']}"
    return rid, {"name": rid, "deleted": False, "project": p}


def _notification_channel(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    rid = f"projects/{p}/notificationChannels/{project_number(name)}"
    return rid, {"name": rid, "verificationStatus": "VERIFIED", "project": p}


def _alert_policy(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    rid = f"projects/{p}/alertPolicies/{project_number(name)}"
    return rid, {"name": rid, "project": p}


def _topic(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    t = _named(i, name, "name")
    return f"projects/{p}/topics/{t}", {"name": t, "project": p}


def _sink(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    """A project sink; a unique writer identity is the project's Cloud Logging service agent."""
    n = _named(i, name, "name")
    writer = f"serviceAccount:service-{project_number(p)}@gcp-sa-logging.iam.gserviceaccount.com"
    return f"projects/{p}/sinks/{n}", {"name": n, "project": p, "writerIdentity": writer}


def _located(collection: str) -> Handler:
    """A resource named `projects/<p>/locations/<r>/<collection>/<name>` (Scheduler jobs, workflows, triggers)."""

    def handler(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
        n = _named(i, name, "name")
        return f"projects/{p}/locations/{_loc(i, region)}/{collection}/{n}", {"name": n, "project": p}

    return handler


def _secret(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    sid = _named(i, name, "secretId")
    return f"projects/{p}/secrets/{sid}", {
        "name": f"projects/{project_number(p)}/secrets/{sid}",
        "project": p,
    }


def _service_identity(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    svc = str(i["service"]).split(".")[0]
    agent = {"artifactregistry": "gcp-sa-artifactregistry", "aiplatform": "gcp-sa-aiplatform"}.get(
        svc, f"gcp-sa-{svc}"
    )
    if svc == "dataproc":
        agent = "dataproc-accounts"
    email = f"service-{project_number(p)}@{agent}.iam.gserviceaccount.com"
    return f"projects/{p}/services/{i['service']}", {"email": email, "member": f"serviceAccount:{email}"}


def _iam_member(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    target = next(
        (
            str(i[k])
            for k in ("bucket", "cryptoKeyId", "serviceAccountId", "endpoint", "name", "datasetId", "topic")
            if k in i
        ),
        p,
    )
    return f"{target}/{i.get('role')}/{i.get('member')}", {"etag": "BwY=", "project": p}


def _dashboard(name: str, i: dict[str, Any], region: str, p: str) -> tuple[str, dict[str, Any]]:
    return f"projects/{project_number(p)}/dashboards/{project_number(name)}", {"project": p}


HANDLERS: dict[str, Handler] = {
    "gcp:projects/service:Service": _service,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
    "gcp:projects/iAMCustomRole:IAMCustomRole": _custom_role,
    "gcp:projects/apiKey:ApiKey": _api_key,
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:storage/bucketObject:BucketObject": _bucket_object,
    "gcp:kms/keyRing:KeyRing": _key_ring,
    "gcp:kms/cryptoKey:CryptoKey": _crypto_key,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:bigquery/dataset:Dataset": _dataset,
    "gcp:bigquery/table:Table": _table,
    "gcp:bigquery/connection:Connection": _connection,
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _regional("regions/{loc}/subnetworks", "name"),
    "gcp:compute/firewall:Firewall": _regional("global/firewalls", "name"),
    "gcp:dataproc/cluster:Cluster": _dataproc_cluster,
    "gcp:dataproc/autoscalingPolicy:AutoscalingPolicy": _autoscaling,
    "gcp:artifactregistry/repository:Repository": _repository,
    "gcp:vertex/aiEndpoint:AiEndpoint": _ai_endpoint,
    "gcp:cloudfunctionsv2/function:Function": _function,
    "gcp:apigateway/api:Api": _api,
    "gcp:apigateway/apiConfig:ApiConfig": _api_config,
    "gcp:apigateway/gateway:Gateway": _gateway,
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": _pool,
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": _pool_provider,
    "gcp:monitoring/notificationChannel:NotificationChannel": _notification_channel,
    "gcp:monitoring/alertPolicy:AlertPolicy": _alert_policy,
    "gcp:monitoring/dashboard:Dashboard": _dashboard,
    "gcp:pubsub/topic:Topic": _topic,
    "gcp:logging/projectSink:ProjectSink": _sink,
    "gcp:cloudscheduler/job:Job": _located("jobs"),
    "gcp:workflows/workflow:Workflow": _located("workflows"),
    "gcp:eventarc/trigger:Trigger": _located("triggers"),
    "gcp:secretmanager/secret:Secret": _secret,
}


def computed_state(
    type_token: str, name: str, inputs: dict[str, Any], region: str
) -> tuple[str, dict[str, Any]]:
    """(id, outputs) of one GCP resource as the provider would report it after create."""
    p = project_id(inputs)
    handler = HANDLERS.get(type_token)
    if handler is None and type_token.split(":")[-1].endswith(("IAMMember", "IamMember")):
        handler = _iam_member
    if handler is None:
        return f"{name}-id", {}
    rid, computed = handler(name, inputs, region, p)
    return rid, {**inputs, **computed}


def invoke(token: str, args: dict[str, Any], region: str) -> dict[str, Any]:
    """Outputs of the GCP data sources the components call; {} for anything else."""
    p = project_id(args)
    number = project_number(p)
    if token == "gcp:organizations/getProject:getProject":
        return {"projectId": p, "number": number, "name": p, "id": f"projects/{p}", "labels": {}}
    if token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
        email = f"service-{number}@gs-project-accounts.iam.gserviceaccount.com"
        return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": p, "id": email}
    if token == "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount":
        email = f"bq-{number}@bigquery-encryption.iam.gserviceaccount.com"
        return {"email": email, "member": f"serviceAccount:{email}", "project": p, "id": email}
    return {}
