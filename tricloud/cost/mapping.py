"""The one table mapping Pulumi type tokens to pricers, and the one table of free resources.

To price a new resource kind: write a pricer in pricers.py and add its type token to PRICERS.
To declare a kind free: add it to FREE (or FREE_PREFIXES) with the reason. Anything in neither
table is reported as "unmapped" and counted with the prices not found, never silently zero.
"""

from __future__ import annotations

from tricloud.cost import pricers as p

PRICERS: dict[str, p.Pricer] = {
    # AWS
    "aws:lambda/function:Function": p.aws_lambda,
    "aws:apigatewayv2/api:Api": p.aws_http_api,
    "aws:s3/bucket:Bucket": p.aws_s3_bucket,
    "aws:s3/bucketV2:BucketV2": p.aws_s3_bucket,
    "aws:kms/key:Key": p.aws_kms_key,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": p.aws_sagemaker_endpoint_config,
    "aws:emrserverless/application:Application": p.aws_emr_serverless,
    "aws:glue/crawler:Crawler": p.aws_glue_crawler,
    "aws:athena/workgroup:Workgroup": p.aws_athena_workgroup,
    "aws:cloudwatch/metricAlarm:MetricAlarm": p.aws_metric_alarm,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": p.aws_firehose,
    "aws:cloudwatch/dashboard:Dashboard": p.aws_dashboard,
    "aws:cloudwatch/logGroup:LogGroup": p.aws_log_group,
    "aws:sns/topic:Topic": p.aws_sns_topic,
    "aws:ecr/repository:Repository": p.image_repository,
    "tricloud:aws:TrainingJob": p.aws_training,
    "aws:redshiftserverless/workgroup:Workgroup": p.aws_redshift_workgroup,
    "aws:redshiftserverless/namespace:Namespace": p.aws_redshift_namespace,
    "aws:ec2/vpcEndpoint:VpcEndpoint": p.aws_vpc_endpoint,
    # Azure
    "azure-native:storage:StorageAccount": p.azure_storage_account,
    "azure-native:databricks:Workspace": p.azure_databricks,
    "azure-native:machinelearningservices:Compute": p.azure_ml_compute,
    "azure-native:machinelearningservices:OnlineDeployment": p.azure_online_deployment,
    "azure-native:web:WebApp": p.azure_function_app,
    "azure-native:web:AppServicePlan": p.azure_app_service_plan,
    "azure-native:apimanagement:ApiManagementService": p.azure_apim,
    "azure-native:keyvault:Vault": p.azure_key_vault,
    "azure-native:applicationinsights:Component": p.azure_log_sink,
    "azure-native:operationalinsights:Workspace": p.azure_log_sink,
    "azure-native:insights:MetricAlert": p.azure_metric_alert,
    "azure-native:monitor:MetricAlert": p.azure_metric_alert,
    "azure-native:insights:ActionGroup": p.azure_action_group,
    "azure-native:containerregistry:Registry": p.azure_container_registry,
    "azure-native:monitor:ActionGroup": p.azure_action_group,
    "azure-native:synapse:Workspace": p.azure_synapse_workspace,
    "azure-native:synapse:SqlPool": p.azure_sql_pool,
    "azure-native:logic:Workflow": p.azure_logic_app,
    # GCP
    "gcp:storage/bucket:Bucket": p.gcp_bucket,
    "gcp:bigquery/dataset:Dataset": p.gcp_bigquery_dataset,
    "gcp:cloudfunctionsv2/function:Function": p.gcp_function,
    "gcp:cloudrunv2/service:Service": p.gcp_function,
    "gcp:apigateway/gateway:Gateway": p.gcp_api_gateway,
    "gcp:vertex/aiEndpoint:AiEndpoint": p.gcp_vertex_endpoint,
    "gcp:kms/cryptoKey:CryptoKey": p.gcp_kms_key,
    "gcp:monitoring/alertPolicy:AlertPolicy": p.gcp_alert_policy,
    "gcp:artifactregistry/repository:Repository": p.image_repository,
    "gcp:pubsub/topic:Topic": p.gcp_pubsub_topic,
    "gcp:cloudscheduler/job:Job": p.gcp_scheduler_job,
    "gcp:secretmanager/secret:Secret": p.gcp_secret,
    "tricloud:gcp:SparkCluster": p.gcp_spark,
    "tricloud:gcp:TrainingJob": p.gcp_training,
    "tricloud:gcp:Observability": p.gcp_observability,
}

_BILLED_ON_ACCOUNT = "configuration of a storage account/bucket; storage is priced on the account/bucket"
FREE: dict[str, str] = {
    # AWS
    "aws:s3/bucketPolicy:BucketPolicy": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketVersioning:BucketVersioning": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketVersioningV2:BucketVersioningV2": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketLogging:BucketLogging": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketLoggingV2:BucketLoggingV2": _BILLED_ON_ACCOUNT,
    "aws:s3/bucketObject:BucketObject": "object upload; its bytes are part of the bucket's storage",
    "aws:s3/bucketObjectv2:BucketObjectv2": "object upload; its bytes are part of the bucket's storage",
    "aws:kms/alias:Alias": "KMS aliases have no charge",
    "aws:glue/catalogDatabase:CatalogDatabase": "Glue Data Catalog: first 1M objects and 1M requests a month are free",
    "aws:glue/catalogTable:CatalogTable": "Glue Data Catalog: first 1M objects and 1M requests a month are free",
    "aws:lambda/permission:Permission": "resource policy statement; no charge",
    "aws:lambda/alias:Alias": "alias; invocations are priced on the function",
    "aws:apigatewayv2/stage:Stage": "stage configuration; requests are priced on the API",
    "aws:apigatewayv2/route:Route": "route configuration; requests are priced on the API",
    "aws:apigatewayv2/integration:Integration": "integration configuration; requests are priced on the API",
    "aws:apigatewayv2/authorizer:Authorizer": "authorizer configuration; its Lambda, if any, is priced itself",
    "aws:apigatewayv2/deployment:Deployment": "deployment snapshot; no charge",
    "aws:sagemaker/model:Model": "model registration; hosting is priced on the endpoint configuration",
    "aws:sagemaker/endpoint:Endpoint": "billed through its endpoint configuration's variants (priced there)",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "model registry group; no charge",
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": "a resource policy; no charge",
    "aws:sagemaker/pipeline:Pipeline": "pipeline definition; its steps' jobs are priced (training hours)",
    "aws:sns/topicSubscription:TopicSubscription": "subscription; deliveries are priced on the topic",
    "aws:sns/topicPolicy:TopicPolicy": "policy; no charge",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "composite alarm; not in the catalog (member alarms are priced)",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge default-bus rules matching AWS events are free",
    "aws:cloudwatch/eventTarget:EventTarget": "rule target; no charge",
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": "no charge; what it sends is priced on Firehose",
    "aws:scheduler/schedule:Schedule": "EventBridge Scheduler: 14 million invocations a month free; the drift "
    "schedule makes at most 744",
    "aws:cloudwatch/eventConnection:EventConnection": "connection definition; no charge (its secret is "
    "EventBridge-managed and included)",
    "aws:cloudwatch/eventApiDestination:EventApiDestination": "USD 0.20 per million invocations: a retrain "
    "dispatch happens at most a few times a month",
    "aws:appautoscaling/target:Target": "Application Auto Scaling has no charge",
    "aws:appautoscaling/policy:Policy": "Application Auto Scaling has no charge (its alarms are priced)",
    "aws:glue/securityConfiguration:SecurityConfiguration": "encryption settings for Glue jobs/crawlers; no charge",
    "aws:athena/namedQuery:NamedQuery": "saved query text; its runs are priced on the workgroup (data scanned)",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "ECR lifecycle policies have no charge (they only expire images)",
    "aws:redshiftserverless/usageLimit:UsageLimit": "a spend cap; its compute is priced on the workgroup",
    "aws:ec2/vpc:Vpc": "VPCs carry no charge",
    "aws:ec2/subnet:Subnet": "subnets carry no charge",
    "aws:ec2/routeTable:RouteTable": "route tables carry no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "route table associations carry no charge",
    "aws:ec2/securityGroup:SecurityGroup": "security groups carry no charge",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security groups carry no charge",
    "aws:ec2/flowLog:FlowLog": "flow logs bill as log ingestion, priced on their destination log group",
    # Azure
    "azure-native:resources:ResourceGroup": "resource groups have no charge",
    "azure-native:storage:BlobContainer": _BILLED_ON_ACCOUNT,
    "azure-native:storage:BlobServiceProperties": _BILLED_ON_ACCOUNT,
    "azure-native:web:WebAppFtpAllowed": "a publishing setting of the Function App; no charge",
    "azure-native:web:WebAppScmAllowed": "a publishing setting of the Function App; no charge",
    "azure-native:storage:ManagementPolicy": _BILLED_ON_ACCOUNT,
    "azure-native:keyvault:Key": "software-protected keys carry no monthly fee; operations priced on the vault",
    "azure-native:keyvault:Secret": "secrets carry no monthly fee; operations priced on the vault",
    "azure-native:machinelearningservices:Workspace": "the workspace is free; its compute, storage and insights are priced",
    "azure-native:machinelearningservices:OnlineEndpoint": "billed through its deployments' instances (priced there)",
    "azure-native:machinelearningservices:Environment": "environment definition; no charge",
    "azure-native:machinelearningservices:EnvironmentVersion": "environment definition; no charge",
    "azure-native:apimanagement:Api": "API definition; calls are priced on the service",
    "azure-native:apimanagement:ApiOperation": "operation definition; calls are priced on the service",
    "azure-native:apimanagement:ApiPolicy": "policy; no charge",
    "azure-native:apimanagement:ApiOperationPolicy": "policy; no charge",
    "azure-native:machinelearningservices:Datastore": "datastore registration; storage is priced on the account",
    "azure-native:machinelearningservices:DataVersion": "data asset registration; storage is priced on the account",
    "azure-native:machinelearningservices:ModelVersion": "model registration; storage is priced on the account",
    "azure-native:machinelearningservices:ModelContainer": "the model registry entry; versions' storage is priced on the account",
    "azure-native:monitor:DiagnosticSetting": "routing configuration; ingested logs are priced on the workspace",
    "azure-native:machinelearningservices:Schedule": "Azure ML schedules have no charge; the jobs they start run "
    "on the training cluster (priced on its Compute)",
    "azure-native:applicationinsights:Workbook": "Azure Monitor workbooks have no charge; their queries read data priced on the workspace",
    "azure-native:storage:Blob": "object upload; its bytes are part of the account's storage",
    "azure-native:apimanagement:Backend": "backend definition; no charge",
    "azure-native:apimanagement:NamedValue": "named value; no charge",
    "azure-native:web:WebAppApplicationSettings": "settings; no charge",
    "azure-native:databricks:AccessConnector": "access connector; no charge",
    "azure-native:synapse:Key": "workspace key activation; the Key Vault key is priced on the vault",
    "azure-native:synapse:WorkspaceAadAdmin": "administrator setting; no charge",
    "azure-native:synapse:IpFirewallRule": "firewall rule; no charge",
    "azure-native:synapse:SqlPoolTransparentDataEncryption": "encryption setting; no charge",
    # Generic ARM resources: the warehouse pool's audit settings (their logs are priced on Log Analytics).
    "azure-native:resources:Resource": "a setting of its parent resource; no charge",
    "tricloud:azure:TrainingJob": "priced through its Azure ML compute cluster",
}

FREE_PREFIXES: dict[str, str] = {
    "aws:iam/": "IAM roles, policies and OIDC providers are free",
    "azure-native:authorization:": "role assignments and definitions are free",
    "azure-native:managedidentity:": "managed identities and federated credentials are free",
    "gcp:serviceaccount/": "service accounts and their IAM bindings are free",
    "gcp:projects/iam": "IAM bindings are free",
    "gcp:storage/bucketIAM": "IAM bindings are free",
    "gcp:iam/workloadIdentityPool": "Workload Identity Federation is free",
    "gcp:projects/service:Service": "enabling an API is free",
    "gcp:kms/keyRing": "key rings are free; key versions are priced on the crypto key",
    "gcp:kms/cryptoKeyIAM": "IAM bindings are free",
    "gcp:apigateway/api:": "API definition; calls are priced on the gateway",
    "gcp:apigateway/apiConfig:": "API config; calls are priced on the gateway",
    "gcp:cloudfunctionsv2/functionIam": "IAM bindings are free",
    "gcp:cloudrunv2/serviceIam": "IAM bindings are free",
    "gcp:monitoring/notificationChannel": "notification channels are free",
    "gcp:monitoring/dashboard": "Cloud Monitoring dashboards are free",
    "gcp:storage/bucketObject": "object upload; its bytes are part of the bucket's storage",
    "gcp:dataproc/batch": "a batch's DCUs are the profile's Spark hours, priced on the SparkCluster component",
    "gcp:bigquery/table:": "table definition; storage and queries are priced on the dataset",
    "gcp:compute/network:": "VPC networks carry no charge",
    "gcp:compute/subnetwork:": "subnets carry no charge",
    "gcp:compute/firewall:": "firewall rules carry no charge",
    "gcp:projects/apiKey:": "API keys carry no charge",
    "gcp:projects/iAMCustomRole:": "IAM custom roles are free",
    "gcp:projects/serviceIdentity:": "service agents are free",
    "gcp:bigquery/connection:": "BigLake connections are free; their queries are priced on the dataset (on-demand TB)",
    "gcp:cloudquota/": "quota preferences are free",
    "gcp:logging/projectSink:": "routing logs to a bucket is free; the routed capture lines are priced as the "
    "artifacts bucket's storage",
    "gcp:eventarc/trigger:": "Eventarc adds no charge for events from Google sources (a Pub/Sub topic here); "
    "the drift topic's messages are priced on Pub/Sub",
    "gcp:workflows/workflow:": "Workflows: 5,000 internal steps and 2,000 external calls a month are free; a "
    "retrain dispatch (2 steps, 1 call) runs at most a few times a month",
    "gcp:bigquery/dataTransferConfig:": "scheduled queries bill as queries: their bytes are priced on the dataset",
    "pulumi:providers:": "provider configuration, not a cloud resource",
}


# IAM bindings on any resource (…IamMember, …IAMBinding, …IamPolicy) are free on every cloud.
IAM_BINDING = ("iammember", "iambinding", "iampolicy")


def free_reason(type_token: str) -> str | None:
    if type_token in FREE:
        return FREE[type_token]
    lowered = type_token.lower()
    for prefix, reason in FREE_PREFIXES.items():
        if lowered.startswith(prefix.lower()):
            return reason
    if type_token.startswith("gcp:") and any(part in lowered.rsplit(":", 1)[-1] for part in IAM_BINDING):
        return "IAM bindings are free"
    return None


def is_component(type_token: str) -> bool:
    return type_token.startswith("tricloud:")
