"""One violating and one compliant fixture per policy: tiny inventories written by hand.

A fixture is `(resource the finding must name, [resources])`; resources are inventory rows (type, name, inputs,
depends_on), so they go through the same path as a stack's inventory. Type tokens are written out here (not
imported from the rules), so a rule watching the wrong type fails its violating fixture.
"""

from __future__ import annotations

import base64
import json
from typing import Any

Row = dict[str, Any]
Fixture = tuple[str, list[Row]]
KEY = "arn:aws:kms:ap-south-1:123456789012:key/k1"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
STD_TAGS = {
    "project": "p",
    "stack": "dev",
    "component": "DataLake",
    "owner": "me",
    "cost-center": "cc",
    "managed-by": "pulumi",
}


def r(type_: str, name: str, deps: tuple[str, ...] = (), /, **inputs: Any) -> Row:
    return {"type": type_, "name": name, "parent": None, "inputs": inputs, "depends_on": list(deps)}


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


# --- AWS S3: a bucket with everything that configures it, and a log bucket --------------------------------------

S3 = "aws:s3/"


def s3_bucket(
    name: str = "data",
    *,
    sse: dict[str, Any] | None = None,
    pab: dict[str, Any] | None = None,
    policy: str | None = None,
    versioning: str | None = "Enabled",
    ownership: str | None = "BucketOwnerEnforced",
    lifecycle: bool = True,
    logs_to: str | None = "logs",
) -> list[Row]:
    bucket = f"b-{name}"
    sse = sse if sse is not None else {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    deny_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    rows = [r(f"{S3}bucket:Bucket", name, bucket=bucket)]
    if sse:
        rows.append(
            r(
                f"{S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                f"{name}-sse",
                (name,),
                bucket=bucket,
                rules=[{"applyServerSideEncryptionByDefault": sse}],
            )
        )
    flags = {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    if pab is not False:
        rows.append(
            r(
                f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock",
                f"{name}-pab",
                (name,),
                bucket=bucket,
                **{**flags, **(pab or {})},
            )
        )
    rows.append(
        r(
            f"{S3}bucketPolicy:BucketPolicy",
            f"{name}-policy",
            (name,),
            bucket=bucket,
            policy=policy or doc(deny_http),
        )
    )
    if versioning:
        rows.append(
            r(
                f"{S3}bucketVersioning:BucketVersioning",
                f"{name}-versioning",
                (name,),
                bucket=bucket,
                versioningConfiguration={"status": versioning},
            )
        )
    if ownership:
        rows.append(
            r(
                f"{S3}bucketOwnershipControls:BucketOwnershipControls",
                f"{name}-ownership",
                (name,),
                bucket=bucket,
                rule={"objectOwnership": ownership},
            )
        )
    if lifecycle:
        rows.append(
            r(
                f"{S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                f"{name}-lifecycle",
                (name,),
                bucket=bucket,
                rules=[
                    {
                        "id": "x",
                        "status": "Enabled",
                        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                    }
                ],
            )
        )
    if logs_to:
        rows.append(
            r(
                f"{S3}bucketLogging:BucketLogging",
                f"{name}-logging",
                (name, logs_to),
                bucket=bucket,
                targetBucket=f"b-{logs_to}",
                targetPrefix=f"{name}/",
            )
        )
    return rows


def log_bucket(sse: str = "AES256") -> list[Row]:
    return s3_bucket("logs", sse={"sseAlgorithm": sse}, logs_to=None)


def s3(**changes: Any) -> list[Row]:
    return [*s3_bucket(**changes), *log_bucket()]


# --- AWS resources ---------------------------------------------------------------------------------------------

ROLE_TRUST = doc(
    {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
    }
)
GITHUB = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def github_trust(sub: Any, aud: bool = True) -> str:
    cond: dict[str, Any] = {"token.actions.githubusercontent.com:sub": sub}
    if aud:
        cond["token.actions.githubusercontent.com:aud"] = "sts.amazonaws.com"
    return doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": GITHUB},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": cond},
        }
    )


FUNCTION = "aws:lambda/function:Function"
GOOD_FUNCTION = {
    "kmsKeyArn": KEY,
    "environment": {"variables": {"ENDPOINT_NAME": "e", "LOG_LEVEL": "INFO"}},
    "reservedConcurrentExecutions": 10,
    "tracingConfig": {"mode": "Active"},
    "codeSigningConfigArn": "arn:aws:lambda:ap-south-1:123456789012:code-signing-config:csc-1",
}


def fn(**changes: Any) -> Fixture:
    return "fn", [r(FUNCTION, "fn", **{**GOOD_FUNCTION, **changes})]


def one(type_: str, /, **inputs: Any) -> Fixture:
    return "x", [r(type_, "x", **inputs)]


def endpoint_config(**changes: Any) -> Fixture:
    base = {
        "kmsKeyArn": KEY,
        "productionVariants": [{"variantName": "primary", "instanceType": "ml.m5.large"}],
        "dataCaptureConfig": {"enableCapture": True, "kmsKeyId": KEY},
    }
    return one("aws:sagemaker/endpointConfiguration:EndpointConfiguration", **{**base, **changes})


def emr(**encryption: Any) -> Fixture:
    base = {
        "EnableAtRestEncryption": True,
        "AtRestEncryptionConfiguration": {
            "S3EncryptionConfiguration": {"EncryptionMode": "SSE-KMS", "AwsKmsKey": KEY},
            "LocalDiskEncryptionConfiguration": {
                "EncryptionKeyProviderType": "AwsKms",
                "AwsKmsKey": KEY,
                "EnableEbsEncryption": True,
            },
        },
    }
    cfg = json.dumps({"EncryptionConfiguration": {**base, **encryption}})
    return one("aws:emr/securityConfiguration:SecurityConfiguration", configuration=cfg)


def glue(**encryption: Any) -> Fixture:
    base = {
        "cloudwatchEncryption": {"cloudwatchEncryptionMode": "SSE-KMS", "kmsKeyArn": KEY},
        "jobBookmarksEncryption": {"jobBookmarksEncryptionMode": "CSE-KMS", "kmsKeyArn": KEY},
        "s3Encryption": {"s3EncryptionMode": "SSE-KMS", "kmsKeyArn": KEY},
    }
    return "crawler", [
        r(
            "aws:glue/securityConfiguration:SecurityConfiguration",
            "sec",
            name="sec",
            encryptionConfiguration={**base, **encryption},
        ),
        r("aws:glue/crawler:Crawler", "crawler", ("sec",), securityConfiguration="sec"),
    ]


AWS: dict[str, tuple[Fixture, Fixture]] = {
    "aws-s3-encryption-cmk": (
        ("data", s3(sse={"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "alias/aws/s3"})),
        ("data", s3()),
    ),
    "aws-s3-public-access-block": (("data", s3(pab={"restrictPublicBuckets": False})), ("data", s3())),
    "aws-s3-tls-only": (
        ("data", s3(policy=doc(allow("s3:GetObject", "*", Principal={"AWS": "arn:aws:iam::1:root"})))),
        ("data", s3()),
    ),
    "aws-s3-policy-not-public": (
        ("data-policy", s3(policy=doc(allow("s3:GetObject", "arn:aws:s3:::b-data/*", Principal="*")))),
        ("data-policy", s3()),
    ),
    "aws-s3-acls-disabled": (("data", s3(ownership="ObjectWriter")), ("data", s3())),
    "aws-s3-versioning": (("data", s3(versioning="Suspended")), ("data", s3())),
    "aws-s3-access-logging": (
        ("data", [*s3_bucket(logs_to=None), *s3_bucket("other"), *log_bucket()]),
        ("data", s3()),
    ),
    "aws-s3-lifecycle": (("data", s3(lifecycle=False)), ("data", s3())),
    "aws-kms-key-rotation": (
        one("aws:kms/key:Key", enableKeyRotation=True),  # AWS's default period: 365 days
        one("aws:kms/key:Key", enableKeyRotation=True, rotationPeriodInDays=90),
    ),
    "aws-kms-key-policy": (
        one("aws:kms/key:Key", policy=doc(allow("kms:*", "*", Principal={"AWS": "*"}))),
        one("aws:kms/key:Key", policy=doc(allow("kms:*", "*", Principal={"AWS": "arn:aws:iam::1:root"}))),
    ),
    "aws-iam-no-wildcard-actions": (
        one("aws:iam/rolePolicy:RolePolicy", policy=doc(allow("s3:*", "arn:aws:s3:::b/*"))),
        one(
            "aws:iam/rolePolicy:RolePolicy",
            policy=doc(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::b/*")),
        ),
    ),
    "aws-iam-no-admin-policies": (
        one(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            policyArn="arn:aws:iam::aws:policy/AdministratorAccess",
        ),
        one(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            policyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        ),
    ),
    "aws-iam-wildcard-resource": (
        one("aws:iam/policy:Policy", policy=doc(allow(["s3:GetObject"], "*"))),
        one(
            "aws:iam/policy:Policy",
            policy=doc(allow(["xray:PutTraceSegments", "ecr:GetAuthorizationToken"], "*")),
        ),
    ),
    "aws-iam-privilege-escalation": (
        one("aws:iam/policy:Policy", policy=doc(allow("iam:PassRole", "arn:aws:iam::123456789012:role/*"))),
        one(
            "aws:iam/policy:Policy",
            policy=doc(allow("iam:PassRole", "arn:aws:iam::123456789012:role/p-dev-*")),
        ),
    ),
    "aws-iam-trust-policy": (
        one("aws:iam/role:Role", assumeRolePolicy=github_trust("repo:tricloud/*")),
        one(
            "aws:iam/role:Role",
            assumeRolePolicy=github_trust("repo:tricloud/tricloud:environment:production"),
        ),
    ),
    "aws-iam-service-trust-source": (
        one(
            "aws:iam/role:Role",
            assumeRolePolicy=doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
        ),
        one("aws:iam/role:Role", assumeRolePolicy=ROLE_TRUST),
    ),
    "aws-logs-retention": (
        one("aws:cloudwatch/logGroup:LogGroup", kmsKeyId=KEY),
        one("aws:cloudwatch/logGroup:LogGroup", kmsKeyId=KEY, retentionInDays=30),
    ),
    "aws-logs-cmk": (
        one("aws:cloudwatch/logGroup:LogGroup", retentionInDays=30),
        one("aws:cloudwatch/logGroup:LogGroup", retentionInDays=30, kmsKeyId=KEY),
    ),
    "aws-lambda-env-encryption": (fn(kmsKeyArn=None), fn()),
    "aws-lambda-no-plaintext-secrets": (
        fn(environment={"variables": {"DB_PASSWORD": "hunter2hunter2"}}),
        fn(environment={"variables": {"DB_PASSWORD": "arn:aws:secretsmanager:ap-south-1:1:secret:db"}}),
    ),
    "aws-lambda-concurrency-limit": (fn(reservedConcurrentExecutions=None), fn()),
    "aws-lambda-tracing": (fn(tracingConfig={"mode": "PassThrough"}), fn()),
    "aws-lambda-code-signing": (fn(codeSigningConfigArn=None), fn()),
    "aws-lambda-permission-scoped": (
        one(
            "aws:lambda/permission:Permission",
            principal="apigateway.amazonaws.com",
            action="lambda:InvokeFunction",
        ),
        one(
            "aws:lambda/permission:Permission",
            principal="apigateway.amazonaws.com",
            sourceArn="arn:aws:execute-api:ap-south-1:1:api/*/*",
        ),
    ),
    "aws-apigw-route-authorization": (
        one("aws:apigatewayv2/route:Route", routeKey="POST /predict", authorizationType="NONE"),
        one("aws:apigatewayv2/route:Route", routeKey="POST /predict", authorizationType="AWS_IAM"),
    ),
    "aws-apigw-access-logging": (
        one("aws:apigatewayv2/stage:Stage", name="$default"),
        one(
            "aws:apigatewayv2/stage:Stage",
            accessLogSettings={"destinationArn": "arn:aws:logs:x", "format": "{}"},
        ),
    ),
    "aws-apigw-throttling": (
        one("aws:apigatewayv2/stage:Stage", defaultRouteSettings={"detailedMetricsEnabled": True}),
        one(
            "aws:apigatewayv2/stage:Stage",
            defaultRouteSettings={"throttlingRateLimit": 50, "throttlingBurstLimit": 100},
        ),
    ),
    "aws-apigw-cors": (
        one("aws:apigatewayv2/api:Api", corsConfiguration={"allowOrigins": ["*"]}),
        one("aws:apigatewayv2/api:Api", corsConfiguration={"allowOrigins": ["https://app.example.com"]}),
    ),
    "aws-ecr-immutable-tags": (
        one("aws:ecr/repository:Repository", imageTagMutability="MUTABLE"),
        one("aws:ecr/repository:Repository", imageTagMutability="IMMUTABLE"),
    ),
    "aws-ecr-scan-on-push": (
        one("aws:ecr/repository:Repository", imageScanningConfiguration={"scanOnPush": False}),
        one("aws:ecr/repository:Repository", imageScanningConfiguration={"scanOnPush": True}),
    ),
    "aws-ecr-cmk": (
        one("aws:ecr/repository:Repository", encryptionConfigurations=[{"encryptionType": "AES256"}]),
        one(
            "aws:ecr/repository:Repository",
            encryptionConfigurations=[{"encryptionType": "KMS", "kmsKey": KEY}],
        ),
    ),
    "aws-sns-cmk": (
        one("aws:sns/topic:Topic", kmsMasterKeyId="alias/aws/sns"),
        one("aws:sns/topic:Topic", kmsMasterKeyId=KEY),
    ),
    "aws-firehose-sse-cmk": (
        one(
            FIREHOSE,
            serverSideEncryption={"enabled": True, "keyType": "AWS_OWNED_CMK"},
            extendedS3Configuration={"bucketArn": "arn:aws:s3:::b", "kmsKeyArn": KEY},
        ),
        one(
            FIREHOSE,
            serverSideEncryption={"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": KEY},
            extendedS3Configuration={"bucketArn": "arn:aws:s3:::b", "kmsKeyArn": KEY},
        ),
    ),
    "aws-sagemaker-endpoint-cmk": (
        endpoint_config(dataCaptureConfig={"enableCapture": True}),
        endpoint_config(),
    ),
    "aws-sagemaker-image-digest": (
        one(
            "aws:sagemaker/model:Model",
            primaryContainer={"image": "1.dkr.ecr.ap-south-1.amazonaws.com/r:latest"},
        ),
        one(
            "aws:sagemaker/model:Model",
            primaryContainer={"image": "1.dkr.ecr.ap-south-1.amazonaws.com/r@sha256:" + "a" * 64},
        ),
    ),
    "aws-athena-workgroup-encryption": (
        one(
            "aws:athena/workgroup:Workgroup",
            configuration={
                "enforceWorkgroupConfiguration": False,
                "resultConfiguration": {"encryptionConfiguration": {"encryptionOption": "SSE_KMS"}},
            },
        ),
        one(
            "aws:athena/workgroup:Workgroup",
            configuration={
                "enforceWorkgroupConfiguration": True,
                "resultConfiguration": {"encryptionConfiguration": {"encryptionOption": "SSE_KMS"}},
            },
        ),
    ),
    "aws-glue-security-configuration": (glue(s3Encryption={"s3EncryptionMode": "DISABLED"}), glue()),
    "aws-emr-security-configuration": (
        emr(AtRestEncryptionConfiguration={"S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"}}),
        emr(),
    ),
    "aws-tags": (
        one("aws:s3/bucket:Bucket", tags={**STD_TAGS, "owner": ""}),
        one("aws:s3/bucket:Bucket", tags=STD_TAGS),
    ),
}


# --- Azure -----------------------------------------------------------------------------------------------------

AZ = "azure-native:"
GOOD_ACCOUNT = {
    "enableHttpsTrafficOnly": True,
    "minimumTlsVersion": "TLS1_2",
    "allowBlobPublicAccess": False,
    "allowSharedKeyAccess": False,
    "allowCrossTenantReplication": False,
    "networkRuleSet": {"defaultAction": "Deny", "bypass": "AzureServices"},
    "isHnsEnabled": True,
    "encryption": {
        "keySource": "Microsoft.Keyvault",
        "keyVaultProperties": {"keyName": "lake", "keyVaultUri": "https://v.vault.azure.net/"},
        "requireInfrastructureEncryption": True,
    },
}


def account(**changes: Any) -> Fixture:
    return "acct", [r(f"{AZ}storage:StorageAccount", "acct", **{**GOOD_ACCOUNT, **changes})]


def account_with(service: dict[str, Any] | None = None, logs: list[str] | None = None) -> Fixture:
    rows = [r(f"{AZ}storage:StorageAccount", "acct", **GOOD_ACCOUNT)]
    if service is not None:
        rows.append(r(f"{AZ}storage:BlobServiceProperties", "svc", ("acct",), **service))
    if logs is not None:
        rows.append(
            r(
                f"{AZ}monitor:DiagnosticSetting",
                "diag",
                ("acct",),
                resourceUri="/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a/blobServices/default",
                logs=[{"category": c, "enabled": True} for c in logs],
            )
        )
    return "acct", rows


ON = {"enabled": True, "days": 30}
VAULT_PROPS = {
    "enableSoftDelete": True,
    "enablePurgeProtection": True,
    "enableRbacAuthorization": True,
    "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
}


def vault(**changes: Any) -> Fixture:
    return one(f"{AZ}keyvault:Vault", properties={**VAULT_PROPS, **changes})


def key(rotate: str, expiry: str | None = "P180D") -> Fixture:
    policy: dict[str, Any] = {
        "lifetimeActions": [{"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": rotate}}]
    }
    if expiry:
        policy["attributes"] = {"expiryTime": expiry}
    return one(f"{AZ}keyvault:Key", properties={"kty": "RSA", "rotationPolicy": policy})


GOOD_SITE = {
    "httpsOnly": True,
    "identity": {"type": "SystemAssigned"},
    "siteConfig": {
        "minTlsVersion": "1.2",
        "scmMinTlsVersion": "1.2",
        "ftpsState": "Disabled",
        "cors": {"allowedOrigins": []},
        "appSettings": [{"name": "ENDPOINT_KEY", "value": "@Microsoft.KeyVault(VaultName=v;SecretName=s)"}],
    },
}


def site(**site_config: Any) -> Fixture:
    return one(f"{AZ}web:WebApp", **{**GOOD_SITE, "siteConfig": {**GOOD_SITE["siteConfig"], **site_config}})


def apim_api(op_policy: str | None, subscription_required: bool = False) -> Fixture:
    rows = [
        r(f"{AZ}apimanagement:Api", "api", subscriptionRequired=subscription_required),
        r(f"{AZ}apimanagement:ApiOperation", "op", ("api",), method="POST", urlTemplate="/predict"),
        r(f"{AZ}apimanagement:ApiOperation", "other", ("api",), method="GET", urlTemplate="/other"),
        r(
            f"{AZ}apimanagement:ApiOperationPolicy",
            "other-policy",
            ("api", "other"),
            value="<validate-jwt />",
        ),
    ]
    if op_policy is not None:
        rows.append(r(f"{AZ}apimanagement:ApiOperationPolicy", "op-policy", ("api", "op"), value=op_policy))
    return "op", rows


PROTOCOLS = {
    f"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.{side}Protocols.{p}": "false"
    for side in ("", "Backend.")
    for p in ("Ssl30", "Tls10", "Tls11")
}
SUB = "/subscriptions/0000"
ML_COMPUTE_PROPS = {
    "computeType": "AmlCompute",
    "disableLocalAuth": True,
    "properties": {
        "enableNodePublicIp": False,
        "remoteLoginPortPublicAccess": "Disabled",
        "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 1},
    },
}

AZURE: dict[str, tuple[Fixture, Fixture]] = {
    "azure-storage-https-only": (account(enableHttpsTrafficOnly=False), account()),
    "azure-storage-min-tls": (account(minimumTlsVersion="TLS1_0"), account()),
    "azure-storage-no-public-blob": (account(allowBlobPublicAccess=True), account()),
    "azure-storage-no-shared-key": (account(allowSharedKeyAccess=None), account()),
    "azure-storage-cross-tenant-replication": (account(allowCrossTenantReplication=True), account()),
    "azure-storage-network-deny": (account(networkRuleSet={"defaultAction": "Allow"}), account()),
    "azure-storage-lake-cmk": (account(encryption={"keySource": "Microsoft.Storage"}), account()),
    "azure-storage-infrastructure-encryption": (
        account(encryption={**GOOD_ACCOUNT["encryption"], "requireInfrastructureEncryption": False}),
        account(),
    ),
    "azure-blob-container-private": (
        one(f"{AZ}storage:BlobContainer", publicAccess="Blob"),
        one(f"{AZ}storage:BlobContainer", publicAccess="None"),
    ),
    "azure-storage-soft-delete": (
        account_with(
            service={"deleteRetentionPolicy": ON, "containerDeleteRetentionPolicy": {"enabled": False}}
        ),
        account_with(service={"deleteRetentionPolicy": ON, "containerDeleteRetentionPolicy": ON}),
    ),
    "azure-storage-access-logging": (
        account_with(logs=["StorageRead", "StorageWrite"]),
        account_with(logs=["StorageRead", "StorageWrite", "StorageDelete"]),
    ),
    "azure-keyvault-recoverable": (vault(enablePurgeProtection=False), vault()),
    "azure-keyvault-rbac": (vault(enableRbacAuthorization=False), vault()),
    "azure-keyvault-firewall": (vault(networkAcls={"defaultAction": "Allow"}), vault()),
    "azure-keyvault-key-rotation": (key("P1Y"), key("P90D")),
    "azure-function-https-tls": (site(ftpsState="AllAllowed"), site()),
    "azure-function-hardening": (site(remoteDebuggingEnabled=True), site()),
    "azure-function-basic-auth": (
        (
            "app",
            [
                r(f"{AZ}web:WebApp", "app", **GOOD_SITE),
                r(f"{AZ}web:WebAppFtpAllowed", "ftp", ("app",), allow=False),
            ],
        ),
        (
            "app",
            [
                r(f"{AZ}web:WebApp", "app", **GOOD_SITE),
                r(f"{AZ}web:WebAppFtpAllowed", "ftp", ("app",), allow=False),
                r(f"{AZ}web:WebAppScmAllowed", "scm", ("app",), allow=False),
            ],
        ),
    ),
    "azure-app-settings-no-plaintext-secrets": (
        site(
            appSettings=[
                {"name": "STORAGE", "value": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc"}
            ]
        ),
        site(),
    ),
    "azure-apim-tls": (
        one(
            f"{AZ}apimanagement:ApiManagementService",
            customProperties={**PROTOCOLS, next(iter(PROTOCOLS)): "true"},
        ),
        one(f"{AZ}apimanagement:ApiManagementService", customProperties=PROTOCOLS),
    ),
    "azure-apim-operation-auth": (
        apim_api(None),
        apim_api(
            '<choose><when condition="@(context.Subscription == null)"><return-response /></when></choose>'
        ),
    ),
    "azure-rbac-least-privilege": (
        one(
            f"{AZ}authorization:RoleAssignment",
            roleDefinitionId=f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
            scope=f"{SUB}/resourceGroups/g",
        ),
        one(
            f"{AZ}authorization:RoleAssignment",
            roleDefinitionId=f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
            scope=f"{SUB}/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/raw",
        ),
    ),
    "azure-ml-compute-hardening": (
        one(
            f"{AZ}machinelearningservices:Compute", properties={**ML_COMPUTE_PROPS, "disableLocalAuth": False}
        ),
        one(f"{AZ}machinelearningservices:Compute", properties=ML_COMPUTE_PROPS),
    ),
    "azure-ml-workspace-private": (
        one(
            f"{AZ}machinelearningservices:Workspace",
            publicNetworkAccess="Enabled",
            managedNetwork={"isolationMode": "AllowOnlyApprovedOutbound"},
        ),
        one(
            f"{AZ}machinelearningservices:Workspace",
            publicNetworkAccess="Disabled",
            managedNetwork={"isolationMode": "AllowOnlyApprovedOutbound"},
        ),
    ),
    "azure-ml-endpoint-private": (
        one(
            f"{AZ}machinelearningservices:OnlineEndpoint",
            properties={"authMode": "Key", "publicNetworkAccess": "Enabled"},
        ),
        one(
            f"{AZ}machinelearningservices:OnlineEndpoint",
            properties={"authMode": "AADToken", "publicNetworkAccess": "Disabled"},
        ),
    ),
    "azure-acr-hardening": (
        one(f"{AZ}containerregistry:Registry", adminUserEnabled=True, anonymousPullEnabled=False),
        one(f"{AZ}containerregistry:Registry", adminUserEnabled=False, anonymousPullEnabled=False),
    ),
    "azure-log-retention": (
        one(f"{AZ}operationalinsights:Workspace", sku={"name": "PerGB2018"}),
        one(f"{AZ}operationalinsights:Workspace", retentionInDays=30),
    ),
    "azure-app-insights-entra-auth": (
        one(f"{AZ}applicationinsights:Component", disableLocalAuth=False),
        one(f"{AZ}applicationinsights:Component", disableLocalAuth=True),
    ),
    "azure-databricks-no-public-ip": (
        one(f"{AZ}databricks:Workspace", parameters={"enableNoPublicIp": {"value": False}}),
        one(f"{AZ}databricks:Workspace", parameters={"enableNoPublicIp": {"value": True}}),
    ),
    "azure-tags": (
        one(f"{AZ}keyvault:Vault", tags={k: v for k, v in STD_TAGS.items() if k != "cost-center"}),
        one(f"{AZ}keyvault:Vault", tags=STD_TAGS),
    ),
}


# --- GCP -------------------------------------------------------------------------------------------------------

GCS = "gcp:storage/bucket:Bucket"
CMEK = "projects/p/locations/asia-south1/keyRings/r/cryptoKeys/k"
GOOD_BUCKET = {
    "name": "data",
    "encryption": {"defaultKmsKeyName": CMEK},
    "uniformBucketLevelAccess": True,
    "publicAccessPrevention": "enforced",
    "versioning": {"enabled": True},
    "logging": {"logBucket": "logs", "logObjectPrefix": "data"},
}


def bucket(**changes: Any) -> Fixture:
    return "x", [r(GCS, "x", **{**GOOD_BUCKET, **changes})]


def openapi(health_security: Any) -> str:
    spec = {
        "swagger": "2.0",
        "securityDefinitions": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}},
        "paths": {
            "/predict": {"post": {"security": [{"api_key": []}]}},
            "/health": {"get": {"security": health_security}},
        },
    }
    return base64.b64encode(json.dumps(spec).encode()).decode()


def gateway_config(health_security: Any) -> Fixture:
    return one(
        "gcp:apigateway/apiConfig:ApiConfig",
        openapiDocuments=[{"document": {"path": "a.json", "contents": openapi(health_security)}}],
    )


GCP: dict[str, tuple[Fixture, Fixture]] = {
    "gcp-gcs-cmek": (bucket(encryption=None), bucket()),
    "gcp-gcs-uniform-access": (bucket(uniformBucketLevelAccess=False), bucket()),
    "gcp-gcs-public-access-prevention": (bucket(publicAccessPrevention="inherited"), bucket()),
    "gcp-gcs-versioning": (bucket(versioning={"enabled": False}), bucket()),
    "gcp-gcs-access-logging": (
        ("x", [r(GCS, "x", **{**GOOD_BUCKET, "logging": None})]),
        (
            "x",
            [r(GCS, "x", **GOOD_BUCKET), r(GCS, "logs", **{**GOOD_BUCKET, "name": "logs", "logging": None})],
        ),
    ),
    "gcp-iam-no-public-members": (
        one(
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            role="roles/storage.objectViewer",
            member="allUsers",
        ),
        one(
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            role="roles/storage.objectViewer",
            member="serviceAccount:a@p.iam.gserviceaccount.com",
        ),
    ),
    "gcp-iam-project-roles": (
        one(
            "gcp:projects/iAMMember:IAMMember",
            role="roles/editor",
            member="serviceAccount:a@p.iam.gserviceaccount.com",
        ),
        one(
            "gcp:projects/iAMMember:IAMMember",
            role="roles/logging.logWriter",
            member="serviceAccount:a@p.iam.gserviceaccount.com",
        ),
    ),
    "gcp-kms-rotation": (
        one("gcp:kms/cryptoKey:CryptoKey", purpose="ENCRYPT_DECRYPT", rotationPeriod="31536000s"),
        one("gcp:kms/cryptoKey:CryptoKey", purpose="ENCRYPT_DECRYPT", rotationPeriod="7776000s"),
    ),
    "gcp-bigquery-cmek": (
        one("gcp:bigquery/dataset:Dataset", datasetId="d"),
        one(
            "gcp:bigquery/dataset:Dataset", datasetId="d", defaultEncryptionConfiguration={"kmsKeyName": CMEK}
        ),
    ),
    "gcp-pubsub-cmek": (
        one("gcp:pubsub/topic:Topic", name="t"),
        one("gcp:pubsub/topic:Topic", name="t", kmsKeyName=CMEK),
    ),
    "gcp-artifact-registry-cmek": (
        one("gcp:artifactregistry/repository:Repository", format="DOCKER"),
        one("gcp:artifactregistry/repository:Repository", format="DOCKER", kmsKeyName=CMEK),
    ),
    "gcp-artifact-registry-immutable-tags": (
        one(
            "gcp:artifactregistry/repository:Repository",
            format="DOCKER",
            dockerConfig={"immutableTags": False},
        ),
        one(
            "gcp:artifactregistry/repository:Repository",
            format="DOCKER",
            dockerConfig={"immutableTags": True},
        ),
    ),
    "gcp-subnet-flow-logs": (
        one("gcp:compute/subnetwork:Subnetwork", ipCidrRange="10.0.0.0/20"),
        one("gcp:compute/subnetwork:Subnetwork", ipCidrRange="10.0.0.0/20", logConfig={"flowSampling": 0.5}),
    ),
    "gcp-subnet-private-google-access": (
        one("gcp:compute/subnetwork:Subnetwork", privateIpGoogleAccess=False),
        one("gcp:compute/subnetwork:Subnetwork", privateIpGoogleAccess=True),
    ),
    "gcp-firewall-no-open-ingress": (
        one(
            "gcp:compute/firewall:Firewall",
            sourceRanges=["0.0.0.0/0"],
            allows=[{"protocol": "tcp", "ports": ["22"]}],
        ),
        one(
            "gcp:compute/firewall:Firewall",
            sourceRanges=["10.40.0.0/20"],
            allows=[{"protocol": "tcp", "ports": ["22"]}],
        ),
    ),
    "gcp-function-ingress": (
        one("gcp:cloudfunctionsv2/function:Function", serviceConfig={"ingressSettings": "ALLOW_ALL"}),
        one(
            "gcp:cloudfunctionsv2/function:Function", serviceConfig={"ingressSettings": "ALLOW_INTERNAL_ONLY"}
        ),
    ),
    "gcp-function-no-plaintext-secrets": (
        one(
            "gcp:cloudfunctionsv2/function:Function",
            serviceConfig={"environmentVariables": {"API_TOKEN": "s3cr3t-value"}},
        ),
        one(
            "gcp:cloudfunctionsv2/function:Function",
            serviceConfig={"environmentVariables": {"API_TOKEN": "projects/p/secrets/api-token"}},
        ),
    ),
    "gcp-api-gateway-auth": (gateway_config([{}]), gateway_config([{"api_key": []}])),
    "gcp-api-keys-restricted": (
        one("gcp:projects/apiKey:ApiKey", displayName="k"),
        one(
            "gcp:projects/apiKey:ApiKey",
            restrictions={"apiTargets": [{"service": "api.apigateway.p.cloud.goog"}]},
        ),
    ),
    "gcp-vertex-endpoint-cmek": (
        one("gcp:vertex/aiEndpoint:AiEndpoint", location="asia-south1"),
        one("gcp:vertex/aiEndpoint:AiEndpoint", encryptionSpec={"kmsKeyName": CMEK}),
    ),
    "gcp-vertex-endpoint-private": (
        one("gcp:vertex/aiEndpoint:AiEndpoint", location="asia-south1"),
        one(
            "gcp:vertex/aiEndpoint:AiEndpoint",
            privateServiceConnectConfig={"enablePrivateServiceConnect": True},
        ),
    ),
    "gcp-dataproc-cluster-hardening": (
        one(
            "gcp:dataproc/cluster:Cluster",
            clusterConfig={
                "encryptionConfig": {"kmsKeyName": CMEK},
                "gceClusterConfig": {"internalIpOnly": False},
            },
        ),
        one(
            "gcp:dataproc/cluster:Cluster",
            clusterConfig={
                "encryptionConfig": {"kmsKeyName": CMEK},
                "gceClusterConfig": {"internalIpOnly": True},
            },
        ),
    ),
    "gcp-wif-provider-restricted": (
        one(
            "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
            oidc={"issuerUri": "https://token.actions.githubusercontent.com"},
            attributeCondition='assertion.ref == "refs/heads/main"',
        ),
        one(
            "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
            oidc={"issuerUri": "https://token.actions.githubusercontent.com"},
            attributeCondition='assertion.repository == "tricloud/tricloud" && assertion.ref == "refs/heads/main"',
        ),
    ),
    "gcp-labels": (
        one("gcp:pubsub/topic:Topic", labels={k: v for k, v in STD_TAGS.items() if k != "owner"}),
        one("gcp:pubsub/topic:Topic", labels=STD_TAGS),
    ),
}

FIXTURES: dict[str, tuple[Fixture, Fixture]] = {**AWS, **AZURE, **GCP}


def sagemaker(isolation: bool, variant: dict[str, Any]) -> Fixture:
    return "model", [
        r("aws:sagemaker/model:Model", "model", enableNetworkIsolation=isolation),
        r(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "cfg",
            ("model",),
            productionVariants=[variant],
        ),
    ]


AWS_NETWORK: dict[str, tuple[Fixture, Fixture]] = {
    "aws-lambda-url-auth": (
        one("aws:lambda/functionUrl:FunctionUrl", authorizationType="NONE"),
        one("aws:lambda/functionUrl:FunctionUrl", authorizationType="AWS_IAM"),
    ),
    "aws-security-group-open-ingress": (
        one(
            "aws:ec2/securityGroup:SecurityGroup",
            ingress=[{"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}],
        ),
        one(
            "aws:ec2/securityGroup:SecurityGroup",
            ingress=[{"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["10.0.0.0/16"]}],
        ),
    ),
    # An instance endpoint's model without isolation fails; a serverless-only model is not checked at all.
    "aws-sagemaker-network-isolation": (
        sagemaker(False, {"variantName": "primary", "instanceType": "ml.m5.large"}),
        sagemaker(
            False,
            {"variantName": "primary", "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 5}},
        ),
    ),
}
FIXTURES.update(AWS_NETWORK)


def gateway_backend(address: str) -> Fixture:
    spec = {
        "swagger": "2.0",
        "x-google-backend": {"address": address},
        "paths": {"/predict": {"post": {"security": [{"api_key": []}]}}},
    }
    contents = base64.b64encode(json.dumps(spec).encode()).decode()
    return one(
        "gcp:apigateway/apiConfig:ApiConfig",
        openapiDocuments=[{"document": {"path": "a.json", "contents": contents}}],
    )


FIXTURES["gcp-api-gateway-backend-tls"] = (
    gateway_backend("http://10.0.0.5:8080"),
    gateway_backend("https://fn-4849289577.asia-south1.run.app"),
)


# The Warehouse concept's policies (tricloud/policy/rules/warehouse.py).
from .warehouse_fixtures import WAREHOUSE  # noqa: E402

FIXTURES.update(WAREHOUSE)
