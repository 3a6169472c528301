"""Warehouse on AWS: Redshift Serverless in a private VPC, loaded from the lake's curated Parquet with COPY.

- Namespace: encrypted with the lake's KMS key. Redshift generates the admin password and keeps it in Secrets
  Manager (encrypted with the same key): it never appears in config, state or logs. Connection, user and
  user-activity logs go to CloudWatch log groups this component creates first (retention, lake key).
- Workgroup: `base_capacity_rpu`, not publicly accessible, enhanced VPC routing, TLS required, a per-query time
  limit, and a daily RPU-hour usage limit that turns user queries off when spent.
- Network: a VPC of its own with three private subnets in three availability zones (Redshift Serverless needs
  three), no internet gateway, an S3 gateway endpoint whose policy admits reads of the curated listings only (so
  COPY works with enhanced VPC routing and UNLOAD cannot send data to any other bucket), a security group admitting
  5439 from inside the VPC, the default security group emptied, and flow logs.
- Loader role: the namespace's default IAM role, which may list and read `<curated>/listings/` and decrypt with
  the lake key, nothing else.

COPY rather than Redshift Spectrum: Spectrum cannot run with enhanced VPC routing. The load statements
(`components.warehouse.schema.redshift_statements`) run through the Redshift Data API (docs/query.md):
`tricloud script redshift-load CURATED_URI [--stack S]` prints the BatchExecuteStatement request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.ec2 as ec2
import pulumi_aws.iam as iam
import pulumi_aws.redshiftserverless as redshiftserverless
from pulumi_aws import get_availability_zones_output

from components import aws_policy as pol
from components.data_lake import curated
from components.data_lake.aws import DataLake
from components.data_lake.spec import Zone
from components.naming import physical_name
from components.tags import component_tags
from components.warehouse import schema
from components.warehouse.spec import OUTPUTS, WarehouseArgs
from components.warehouse.spec import Warehouse as Concept

PORT = 5439
ADMIN_USER = "warehouse_admin"
LOG_EXPORTS = ("connectionlog", "userlog", "useractivitylog")  # who connected, user changes, every query
MAX_QUERY_SECONDS = 3600  # a runaway query is stopped after an hour instead of burning RPU-hours all day
FLOW_LOG_INTERVAL_SECONDS = 600  # the coarser aggregation: a tenth of the log volume of 60 s
# Every parameter Redshift reports back, so `pulumi up` never sees a diff in the ones left to defaults.
CONFIG_PARAMETERS = {
    "auto_mv": "true",
    "datestyle": "ISO, MDY",
    "enable_case_sensitive_identifier": "false",
    "enable_user_activity_logging": "true",  # without it the useractivitylog export stays empty
    "max_query_execution_time": str(MAX_QUERY_SECONDS),
    "query_group": "default",
    "require_ssl": "true",  # TLS only: plaintext connections are refused
    "search_path": "$user, public",
    "use_fips_ssl": "false",
}


@dataclass(frozen=True)
class WarehouseNative:
    vpc: ec2.Vpc
    subnets: tuple[ec2.Subnet, ...]
    route_table: ec2.RouteTable
    s3_endpoint: ec2.VpcEndpoint
    security_group: ec2.SecurityGroup
    default_security_group: ec2.DefaultSecurityGroup
    flow_log: ec2.FlowLog
    log_groups: tuple[cloudwatch.LogGroup, ...]
    loader_role: iam.Role
    namespace: redshiftserverless.Namespace
    workgroup: redshiftserverless.Workgroup
    usage_limit: redshiftserverless.UsageLimit


class Warehouse(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    warehouse_endpoint: pulumi.Output[str]
    warehouse_database: pulumi.Output[str]
    warehouse_table: pulumi.Output[str]
    warehouse_loader: pulumi.Output[str]
    native: WarehouseNative

    def __init__(
        self, name: str, args: WarehouseArgs, *, lake: DataLake, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"tricloud:aws:{Concept.name}", name, None, opts)
        args.validate()
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)
        o = args.aws
        namespace_name = physical_name("aws:redshift_serverless", project, stack, "warehouse")

        # --- network: private subnets in three zones, S3 through a gateway endpoint only ---------------------
        vpc = ec2.Vpc(
            f"{name}-vpc",
            cidr_block=o.vpc_cidr,
            enable_dns_support=True,  # the S3 endpoint and the workgroup endpoint resolve through VPC DNS
            enable_dns_hostnames=True,
            tags={**tags, "Name": physical_name("aws:generic", project, stack, "warehouse")},
            opts=child,
        )
        zones = get_availability_zones_output(
            state="available",
            # Regular zones only: Local Zones cannot host Redshift Serverless.
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        subnets = tuple(
            ec2.Subnet(
                f"{name}-subnet-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones.names.apply(lambda names, i=i: names[i]),
                map_public_ip_on_launch=False,  # nothing here is reachable from the internet
                tags={**tags, "Name": physical_name("aws:generic", project, stack, "warehouse", str(i))},
                opts=child,
            )
            for i, cidr in enumerate(o.subnet_cidrs())
        )
        # One route table with no default route: the subnets reach S3 (endpoint) and the VPC, nothing else.
        route_table = ec2.RouteTable(f"{name}-routes", vpc_id=vpc.id, tags=tags, opts=child)
        for i, subnet in enumerate(subnets):
            ec2.RouteTableAssociation(
                f"{name}-routes-{i}", subnet_id=subnet.id, route_table_id=route_table.id, opts=child
            )
        curated_bucket = lake.bucket(Zone.CURATED)
        s3_endpoint = ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", ctx.region, ".s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[route_table.id],
            policy=pol.document(
                [
                    {
                        "Sid": "CuratedListingsOnly",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                        "Resource": [curated_bucket.arn, lake.object_arn(Zone.CURATED, curated.PREFIX)],
                    }
                ]
            ),
            tags=tags,
            opts=child,
        )
        security_group = ec2.SecurityGroup(
            f"{name}-sg",
            name=physical_name("aws:generic", project, stack, "warehouse"),
            vpc_id=vpc.id,
            description="Redshift Serverless: SQL from inside the VPC, HTTPS to S3 only",
            ingress=[
                {
                    "description": "SQL clients inside the VPC",
                    "protocol": "tcp",
                    "from_port": PORT,
                    "to_port": PORT,
                    "cidr_blocks": [o.vpc_cidr],
                }
            ],
            egress=[
                {
                    "description": "COPY reads the lake through the S3 gateway endpoint",
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "prefix_list_ids": [s3_endpoint.prefix_list_id],
                }
            ],
            tags=tags,
            opts=child,
        )
        # The VPC's default group admits all traffic among its members; no rules leaves it unusable (CIS 5.5).
        default_sg = ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags=tags, opts=child
        )
        flow_logs, flow_log = self._flow_logs(name, args, lake, vpc, ctx, tags)

        # --- audit log groups, created before Redshift would create them without retention or key -----------
        audit_groups = tuple(
            cloudwatch.LogGroup(
                f"{name}-{log}",
                name=f"/aws/redshift/{namespace_name}/{log}",
                retention_in_days=o.audit_log_retention_days,
                kms_key_id=lake.key_arn,  # query texts can carry data: encrypted with the lake key
                tags=tags,
                opts=child,
            )
            for log in LOG_EXPORTS
        )

        # --- the loader role: reads the curated listings, nothing else ----------------------------------------
        loader = iam.Role(
            f"{name}-loader",
            name=physical_name("aws:iam_role", project, stack, "warehouse-loader"),
            description="Redshift Serverless COPY: read the curated listings of the lake",
            assume_role_policy=pol.document(
                [
                    {
                        "Effect": "Allow",
                        # Serverless namespaces assume their roles through both Redshift service principals.
                        "Principal": {
                            "Service": ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
                        },
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                    }
                ]
            ),
            max_session_duration=3600,  # short sessions: a leaked credential expires within the hour
            tags=tags,
            opts=child,
        )
        lake.grant_read(loader, zone=Zone.CURATED, prefix=curated.PREFIX, parent=self)

        namespace = redshiftserverless.Namespace(
            f"{name}-namespace",
            namespace_name=namespace_name,
            db_name=args.database,
            admin_username=ADMIN_USER,
            manage_admin_password=True,  # Redshift generates and rotates it in Secrets Manager: no plaintext
            admin_password_secret_kms_key_id=lake.key_arn,
            kms_key_id=lake.key_arn,  # the warehouse's data and snapshots under the lake's key
            iam_roles=[loader.arn],
            default_iam_role_arn=loader.arn,  # `IAM_ROLE default` in COPY
            log_exports=list(LOG_EXPORTS),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*audit_groups]),
        )
        workgroup = redshiftserverless.Workgroup(
            f"{name}-workgroup",
            workgroup_name=physical_name("aws:redshift_serverless", project, stack, "warehouse"),
            namespace_name=namespace.namespace_name,
            base_capacity=o.base_capacity_rpu,
            enhanced_vpc_routing=True,  # COPY/UNLOAD traffic stays in the VPC, under the endpoint policy
            publicly_accessible=False,
            subnet_ids=[s.id for s in subnets],
            security_group_ids=[security_group.id],
            port=PORT,
            config_parameters=[
                {"parameter_key": k, "parameter_value": v} for k, v in CONFIG_PARAMETERS.items()
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[s3_endpoint]),
        )
        usage_limit = redshiftserverless.UsageLimit(
            f"{name}-usage-limit",
            resource_arn=workgroup.arn,
            usage_type="serverless-compute",
            amount=o.max_rpu_hours_per_day,
            period="daily",
            breach_action="deactivate",  # turn user queries off for the rest of the day
            opts=child,
        )

        address = workgroup.endpoints.apply(lambda eps: (eps[0].address or "") if eps else "")
        self.warehouse_endpoint = pulumi.Output.concat(address, f":{PORT}")
        self.warehouse_database = namespace.db_name
        self.warehouse_table = pulumi.Output.concat(
            namespace.db_name, f".{schema.REDSHIFT_SCHEMA}.{schema.TABLE}"
        )
        self.warehouse_loader = loader.arn
        self.native = WarehouseNative(
            vpc=vpc,
            subnets=subnets,
            route_table=route_table,
            s3_endpoint=s3_endpoint,
            security_group=security_group,
            default_security_group=default_sg,
            flow_log=flow_log,
            log_groups=(*audit_groups, flow_logs),
            loader_role=loader,
            namespace=namespace,
            workgroup=workgroup,
            usage_limit=usage_limit,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    def _flow_logs(
        self,
        name: str,
        args: WarehouseArgs,
        lake: DataLake,
        vpc: ec2.Vpc,
        ctx: pol.AwsContext,
        tags: dict[str, str],
    ) -> tuple[cloudwatch.LogGroup, ec2.FlowLog]:
        """Every accepted and rejected connection of the VPC (COPY traffic included), kept like the audit logs."""
        project, stack = pulumi.get_project(), pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)
        group = cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/tricloud/{project}-{stack}/warehouse-vpc-flow-logs",
            retention_in_days=args.aws.audit_log_retention_days,
            kms_key_id=lake.key_arn,
            tags=tags,
            opts=child,
        )
        role = pol.role(
            f"{name}-flow-logs-role",
            physical=physical_name("aws:iam_role", project, stack, "warehouse-flow-logs"),
            service="vpc-flow-logs.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=self,
            description="VPC flow logs of the warehouse VPC: write to its one log group",
        )
        pol.inline_policy(
            f"{name}-flow-logs-write",
            role,
            [
                pol.statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [group.arn, pulumi.Output.concat(group.arn, ":log-stream:*")],
                    sid="WriteFlowLogs",
                )
            ],
            parent=self,
        )
        flow_log = ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=FLOW_LOG_INTERVAL_SECONDS,
            tags=tags,
            opts=child,
        )
        return group, flow_log
