"""SparkCluster on GCP: Dataproc Serverless prerequisites (default) or a Dataproc cluster.

SERVERLESS creates no Dataproc resource. A `dataproc.Batch` is a one-shot job: it runs once at `pulumi up`,
cannot be updated (every change replaces it, re-running and re-billing the job) and is never "idle". The stack
therefore creates only what every batch needs (service account, private network, grants) and exports the batch
settings as `spark_application`; the deploy step submits batches with them (`gcloud dataproc batches submit
pyspark ...`, docs/gcp.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import pulumi
import pulumi_gcp.compute as compute
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.storage as storage

from components.data_lake.gcp import (
    DataLake,
    base_name,
    enable_services,
    project_grant,
    region,
    service_account,
)
from components.data_lake.spec import Zone
from components.spark_cluster.spec import OUTPUTS, SparkClusterArgs, SparkMode
from components.spark_cluster.spec import SparkCluster as Concept
from components.tags import component_tags

if TYPE_CHECKING:  # Dataproc's SDK module takes ~0.4 s to import: loaded only in CLUSTER mode
    import pulumi_gcp.dataproc as dataproc

CLOUD = "gcp"
RUNTIME_VERSION = "2.2"  # Dataproc Serverless runtime 2.2 = Spark 3.5, the line app/features is tested with
IMAGE_VERSION = "2.2-debian12"  # the cluster image of the same Spark line
SUBNET_CIDR = "10.40.0.0/20"
CORES_PER_EXECUTOR = 4  # Dataproc Serverless accepts 4, 8 or 16; 4 keeps the smallest unit of spend
CLUSTER_MACHINE = "n2-standard-4"
SPARK_LOGS_PREFIX = "spark-logs/"
BATCH_TTL = (
    f"{4 * 3600}s"  # a runaway batch stops after 4 h (the feature job takes minutes) instead of forever
)


@dataclass(frozen=True)
class SparkClusterNative:
    services: dict[str, projects.Service]
    service_account: serviceaccount.Account
    network: compute.Network
    subnet: compute.Subnetwork
    firewall: compute.Firewall
    grants: tuple[pulumi.Resource, ...]
    autoscaling_policy: dataproc.AutoscalingPolicy | None
    cluster: dataproc.Cluster | None


class SparkCluster(pulumi.ComponentResource):
    """Dataproc Serverless (pay per batch) or a Dataproc cluster (internal IPs, CMEK, autoscaling, idle delete)."""

    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    spark_application: pulumi.Output[str]
    spark_job_role: pulumi.Output[str]
    spark_logs_uri: pulumi.Output[str]
    native: SparkClusterNative

    def __init__(
        self,
        name: str,
        args: SparkClusterArgs,
        *,
        lake: DataLake,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        args.validate()
        labels = component_tags(CLOUD, Concept.name, args.tags)
        here = region()
        executors = max(2, (args.max_vcpu - CORES_PER_EXECUTOR) // CORES_PER_EXECUTOR)  # 2 is the minimum
        # Memory per executor from the GB-per-vCPU ratio, within Dataproc's 1-7.5 GB per core (10% overhead).
        gb_per_core = min(7, max(1, args.max_memory_gb // args.max_vcpu))
        executor_memory_gb = max(1, int(gb_per_core * CORES_PER_EXECUTOR * 0.9))

        services = enable_services(self, name, ("dataproc.googleapis.com", "compute.googleapis.com"))
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(services.values()))
        sa = service_account(self, f"{name}-sa", "spark", "tricloud Spark jobs (Dataproc)", lake=lake)
        # Dataproc requires its worker role on the job's identity (agent heartbeat, staging); it is project-wide
        # by design. Data access is granted per zone by the lake below, not by this role.
        worker = project_grant(
            self, f"{name}-dataproc-worker", lake.project_id, "roles/dataproc.worker", sa.member
        )
        # Batches and clusters use the lake key: the Dataproc agent for the workload, the Compute Engine agent
        # for its persistent disks. Both agents appear when their APIs are enabled.
        key_grants = tuple(
            lake.grant_key(
                f"{name}-key-{agent}",
                lake.project_number.apply(
                    lambda n, a=agent: f"serviceAccount:service-{n}@{a}.iam.gserviceaccount.com"
                ),
                after=list(services.values()),
            )
            for agent in ("compute-system", "dataproc-accounts")
        )
        grants: tuple[pulumi.Resource, ...] = (
            worker,
            *key_grants,
            lake.grant_read(sa, zone=Zone.RAW),
            lake.grant_write(sa, zone=Zone.CURATED),
            lake.grant_write(sa, zone=Zone.ARTIFACTS, prefix=SPARK_LOGS_PREFIX),
        )

        network = compute.Network(
            f"{name}-network",
            name=base_name("gcp:generic", "spark"),
            auto_create_subnetworks=False,  # one subnet we define, not one per region with default rules
            opts=after_apis,
        )
        subnet = compute.Subnetwork(
            f"{name}-subnet",
            name=base_name("gcp:generic", "spark"),
            network=network.id,
            region=here,
            ip_cidr_range=SUBNET_CIDR,
            # No public IPs on executors: Private Google Access is how they reach GCS and BigQuery.
            private_ip_google_access=True,
            # Who talked to whom, for incident response (gcp-subnet-flow-logs): CIS GCP 3.8's settings.
            log_config=(
                compute.SubnetworkLogConfigArgs(
                    aggregation_interval="INTERVAL_5_SEC",
                    flow_sampling=args.gcp.flow_log_sampling_percent / 100,
                    metadata="INCLUDE_ALL_METADATA",
                )
                if args.gcp.flow_log_sampling_percent
                else None
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Spark drivers and executors talk to each other on any port; nothing outside the subnet may connect.
        firewall = compute.Firewall(
            f"{name}-internal",
            name=base_name("gcp:generic", "spark-internal"),
            network=network.id,
            direction="INGRESS",
            source_ranges=[SUBNET_CIDR],
            allows=[
                compute.FirewallAllowArgs(protocol="tcp", ports=["0-65535"]),
                compute.FirewallAllowArgs(protocol="udp", ports=["0-65535"]),
                compute.FirewallAllowArgs(protocol="icmp"),
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

        artifacts = lake.bucket(Zone.ARTIFACTS)
        policy = cluster = None
        if args.mode is SparkMode.CLUSTER:
            policy, cluster = self._cluster(
                name, args, lake, sa, subnet, artifacts, labels, here, [*grants, firewall]
            )
        self.native = SparkClusterNative(
            services=services,
            service_account=sa,
            network=network,
            subnet=subnet,
            firewall=firewall,
            grants=grants,
            autoscaling_policy=policy,
            cluster=cluster,
        )

        self.spark_job_role = sa.email
        self.spark_logs_uri = lake.uri(Zone.ARTIFACTS, SPARK_LOGS_PREFIX)
        if cluster is not None:
            self.spark_application = cluster.id
        else:
            # The batch template: what every `batches submit` passes (runtime, identity, network, key, limits).
            self.spark_application = pulumi.Output.json_dumps(
                {
                    "type": "dataproc-serverless-batch",
                    "location": here,
                    "runtimeConfig": {
                        "version": RUNTIME_VERSION,
                        "properties": {
                            "spark.executor.cores": str(CORES_PER_EXECUTOR),
                            "spark.driver.cores": str(CORES_PER_EXECUTOR),
                            "spark.executor.memory": f"{executor_memory_gb}g",
                            "spark.dynamicAllocation.maxExecutors": str(executors),
                            "spark.dataproc.scaling.version": "2",
                        },
                    },
                    "environmentConfig": {
                        "executionConfig": {
                            "serviceAccount": sa.email,
                            "subnetworkUri": subnet.id,
                            "kmsKey": lake.encryption_key,
                            "stagingBucket": artifacts.name,
                            "ttl": BATCH_TTL,
                            # Interactive sessions made from this template end after the idle timeout.
                            "idleTtl": f"{args.idle_timeout_minutes * 60}s",
                        }
                    },
                    "labels": labels,
                }
            )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    def _cluster(
        self,
        name: str,
        args: SparkClusterArgs,
        lake: DataLake,
        sa: serviceaccount.Account,
        subnet: compute.Subnetwork,
        artifacts: storage.Bucket,
        labels: dict[str, str],
        here: str,
        depends_on: list[pulumi.Resource],
    ) -> tuple[dataproc.AutoscalingPolicy, dataproc.Cluster]:
        import pulumi_gcp.dataproc as dataproc

        machine_vcpu = 4
        max_workers = max(2, args.max_vcpu // machine_vcpu - 1)  # minus the primary node
        policy = dataproc.AutoscalingPolicy(
            f"{name}-autoscaling",
            policy_id=base_name("gcp:generic", "spark-autoscaling"),
            location=here,
            worker_config=dataproc.AutoscalingPolicyWorkerConfigArgs(
                min_instances=2, max_instances=max_workers
            ),
            # Secondary workers are spot VMs without HDFS: preemption loses compute, never data.
            secondary_worker_config=dataproc.AutoscalingPolicySecondaryWorkerConfigArgs(
                min_instances=0, max_instances=max_workers
            ),
            basic_algorithm=dataproc.AutoscalingPolicyBasicAlgorithmArgs(
                cooldown_period="120s",
                yarn_config=dataproc.AutoscalingPolicyBasicAlgorithmYarnConfigArgs(
                    graceful_decommission_timeout="300s", scale_up_factor=1.0, scale_down_factor=1.0
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        cluster = dataproc.Cluster(
            f"{name}-cluster",
            name=base_name("gcp:generic", "spark"),
            region=here,
            labels=labels,
            cluster_config=dataproc.ClusterClusterConfigArgs(
                staging_bucket=artifacts.name,
                software_config=dataproc.ClusterClusterConfigSoftwareConfigArgs(image_version=IMAGE_VERSION),
                gce_cluster_config=dataproc.ClusterClusterConfigGceClusterConfigArgs(
                    internal_ip_only=True,  # no VM gets a public IP; Private Google Access reaches the APIs
                    subnetwork=subnet.id,
                    service_account=sa.email,
                    service_account_scopes=[
                        "cloud-platform"
                    ],  # IAM on the service account decides, not scopes
                    shielded_instance_config=dataproc.ClusterClusterConfigGceClusterConfigShieldedInstanceConfigArgs(
                        enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
                    ),
                ),
                master_config=dataproc.ClusterClusterConfigMasterConfigArgs(
                    num_instances=1, machine_type=CLUSTER_MACHINE
                ),
                worker_config=dataproc.ClusterClusterConfigWorkerConfigArgs(
                    num_instances=2, machine_type=CLUSTER_MACHINE
                ),
                encryption_config=dataproc.ClusterClusterConfigEncryptionConfigArgs(
                    kms_key_name=lake.encryption_key
                ),
                autoscaling_config=dataproc.ClusterClusterConfigAutoscalingConfigArgs(policy_uri=policy.name),
                # The cluster deletes itself after idle_timeout_minutes without jobs: no forgotten VMs.
                lifecycle_config=dataproc.ClusterClusterConfigLifecycleConfigArgs(
                    idle_delete_ttl=f"{args.idle_timeout_minutes * 60}s"
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        return policy, cluster
