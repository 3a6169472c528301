"""ApiFrontend on AWS: a Lambda function (the shared app/frontend handler) behind an API Gateway HTTP API.

`POST /predict` needs the caller's IAM signature (or a JWT when auth is jwt), `GET /health` is open. The function may
invoke this stack's endpoint and write its own logs; nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws.apigatewayv2 as apigatewayv2
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.iam as iam
import pulumi_aws.lambda_ as lambda_
import pulumi_aws.s3 as s3
import pulumi_aws.signer as signer

from components import aws_policy as pol
from components.api_frontend.capture_aws import CaptureNative, deliver
from components.api_frontend.spec import HANDLERS, OUTPUTS, ApiAuth, ApiFrontendArgs
from components.api_frontend.spec import ApiFrontend as Concept
from components.data_lake.aws import DataLake, harden, lifecycle, lifecycle_rule, tls_only_policy
from components.model_endpoint.aws import ModelEndpoint
from components.naming import physical_name
from components.observability.aws import Observability
from components.tags import component_tags

APP_DIR = (
    Path(__file__).resolve().parents[2] / "app"
)  # the repository's app/ package, shipped as app/ in the zip
STAGE = "$default"
SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"  # the Signer platform Lambda verifies
OLD_CODE_DAYS = 30  # superseded code versions (unsigned and signed zips) are kept a month for rollbacks
ENDPOINT_MAX_ATTEMPTS = "2"  # one retry: a second timeout means the fallback answers
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}


def app_archive() -> pulumi.AssetArchive:
    """The repository's app/ package at app/ in the zip, file by file, sorted, without bytecode caches.

    Listing files (rather than one FileArchive of the folder) keeps __pycache__ out, so a test run on the deploying
    machine does not change the archive's hash and trigger a needless function update.
    """
    files = sorted(
        p for p in APP_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    return pulumi.AssetArchive(
        {f"app/{p.relative_to(APP_DIR).as_posix()}": pulumi.FileAsset(str(p)) for p in files}
    )


@dataclass(frozen=True)
class SignedCode:
    """The code-signing pieces (tricloud:api.aws.code_signing): a versioned code bucket, the Signer profile and
    job that sign each zip, and the Lambda configuration that refuses anything else."""

    bucket: s3.Bucket
    unsigned: s3.BucketObjectv2
    profile: signer.SigningProfile
    job: signer.SigningJob
    config: lambda_.CodeSigningConfig


@dataclass(frozen=True)
class ApiFrontendNative:
    role: iam.Role
    function: lambda_.Function
    function_logs: cloudwatch.LogGroup
    api: apigatewayv2.Api
    integration: apigatewayv2.Integration
    routes: dict[str, apigatewayv2.Route]
    stage: apigatewayv2.Stage
    access_logs: cloudwatch.LogGroup
    permission: lambda_.Permission
    authorizer: apigatewayv2.Authorizer | None
    alarms: list[cloudwatch.MetricAlarm]
    signed_code: SignedCode | None = None
    capture: CaptureNative | None = None


class ApiFrontend(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    api_url: pulumi.Output[str]
    function_name: pulumi.Output[str]
    native: ApiFrontendNative

    def __init__(
        self,
        name: str,
        args: ApiFrontendArgs,
        *,
        endpoint: ModelEndpoint,
        observability: Observability,
        lake: DataLake | None = None,
        capture_percent: float = 0.0,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("tricloud:aws:ApiFrontend", name, None, opts)
        args.validate()
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)
        fn_name = physical_name("aws:lambda", project, stack, "api")
        api_name = physical_name("aws:generic", project, stack, "api")

        # Created before the function, so Lambda never auto-creates a group with infinite retention.
        fn_logs = cloudwatch.LogGroup(
            f"{name}-function-logs",
            name=f"/aws/lambda/{fn_name}",
            retention_in_days=args.log_retention_days,
            # Log lines carry request fields: encrypted with the lake key, whose policy admits this account's
            # CloudWatch Logs. Costs only KMS requests, which CloudWatch Logs batches per data key.
            kms_key_id=endpoint.encryption_key_arn,
            tags=tags,
            opts=child,
        )
        role = pol.role(
            f"{name}-role",
            physical=physical_name("aws:iam_role", project, stack, "api-function"),
            service="lambda.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=self,
            description="API function: invoke this stack's endpoint, write its own logs",
        )
        pol.inline_policy(
            f"{name}-role-policy",
            role,
            [
                pol.statement(
                    ["sagemaker:InvokeEndpoint"], [endpoint.endpoint_arn], sid="InvokeThisEndpoint"
                ),
                pol.statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [pulumi.Output.concat(fn_logs.arn, ":*")],
                    sid="WriteOwnLogs",
                ),
                pol.kms_use_statement(endpoint.encryption_key_arn, encrypt=False),
                # X-Ray accepts no resource-level scoping.
                pol.statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"], sid="Tracing"),
            ],
            parent=self,
        )
        signed = (
            self._signed_code(name, ctx, tags, endpoint.encryption_key_arn) if args.aws.code_signing else None
        )
        code: dict[str, Any] = (
            {"code": app_archive()}
            if signed is None
            else {
                # The job's output, not the upload: Lambda (Enforce) rejects any zip Signer did not sign.
                "s3_bucket": signed.job.signed_objects.apply(lambda objs: _signed(objs, "bucket")),
                "s3_key": signed.job.signed_objects.apply(lambda objs: _signed(objs, "key")),
                "code_signing_config_arn": signed.config.arn,
            }
        )
        function = lambda_.Function(
            f"{name}-function",
            name=fn_name,
            runtime="python3.12",
            handler=HANDLERS["aws"],
            role=role.arn,
            **code,
            architectures=["arm64"],  # pure Python: Graviton is ~20% cheaper per GB-second
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            kms_key_arn=endpoint.encryption_key_arn,  # environment variables encrypted with the lake key
            environment={
                "variables": {
                    "ENDPOINT_NAME": endpoint.endpoint_name,
                    "ENDPOINT_TIMEOUT_MS": str(args.endpoint_timeout_ms),
                    "ENDPOINT_MAX_ATTEMPTS": ENDPOINT_MAX_ATTEMPTS,
                    "FALLBACK_ENABLED": "true" if args.fallback_enabled else "false",
                    "LOG_LEVEL": "INFO",
                    "CAPTURE_PERCENT": f"{capture_percent:g}" if lake is not None else "0",
                }
            },
            tracing_config={"mode": "Active" if args.tracing else "PassThrough"},
            logging_config={"log_format": "JSON", "log_group": fn_logs.name},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[fn_logs]),
        )

        cors: apigatewayv2.ApiCorsConfigurationArgsDict | None = (
            {
                "allow_origins": list(args.cors_origins),
                "allow_methods": ["GET", "POST"],
                "allow_headers": ["authorization", "content-type", "x-amz-date", "x-amz-security-token"],
                "max_age": 600,
            }
            if args.cors_origins
            else None  # no CORS headers at all: browsers on other origins cannot call the API
        )
        api = apigatewayv2.Api(
            f"{name}-api",
            name=api_name,
            protocol_type="HTTP",
            cors_configuration=cors,
            tags=tags,
            opts=child,
        )
        integration = apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=function.arn,
            integration_method="POST",
            payload_format_version="2.0",
            timeout_milliseconds=args.timeout_seconds * 1000,
            opts=child,
        )
        authorizer = None
        if args.auth is ApiAuth.JWT:
            authorizer = apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=api.id,
                name="jwt",
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration={"issuer": args.jwt_issuer, "audiences": list(args.jwt_audience)},
                opts=child,
            )
        target = pulumi.Output.concat("integrations/", integration.id)
        routes = {
            "POST /predict": apigatewayv2.Route(
                f"{name}-route-predict",
                api_id=api.id,
                route_key="POST /predict",
                target=target,
                authorization_type="JWT" if authorizer else "AWS_IAM",
                authorizer_id=authorizer.id if authorizer else None,
                opts=child,
            ),
            # Open by design: load balancers and learners check liveness without credentials.
            "GET /health": apigatewayv2.Route(
                f"{name}-route-health",
                api_id=api.id,
                route_key="GET /health",
                target=target,
                authorization_type="NONE",
                opts=child,
            ),
        }
        access_logs = cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{api_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=endpoint.encryption_key_arn,  # caller IPs and identities: encrypted like the function logs
            tags=tags,
            opts=child,
        )
        stage = apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            name=STAGE,
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": args.throttle_rate_per_second,
                "throttling_burst_limit": args.throttle_burst,
                "detailed_metrics_enabled": True,
            },
            access_log_settings={
                "destination_arn": access_logs.arn,
                "format": pulumi.Output.json_dumps(ACCESS_LOG_FORMAT),
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(routes.values())),
        )
        permission = lambda_.Permission(
            f"{name}-invoke-permission",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/*"),  # only this API may invoke it
            opts=child,
        )
        alarms = observability.watch_api(api.id, STAGE, function.name)
        # Capture lines go from the function's log group to the lake (components/api_frontend/capture_aws.py).
        capture = None
        if lake is not None and capture_percent > 0:
            capture = deliver(self, name, function_logs=fn_logs, lake=lake, ctx=ctx, tags=tags)

        self.api_url = stage.invoke_url
        self.function_name = function.name
        self.native = ApiFrontendNative(
            role=role,
            function=function,
            function_logs=fn_logs,
            api=api,
            integration=integration,
            routes=routes,
            stage=stage,
            access_logs=access_logs,
            permission=permission,
            authorizer=authorizer,
            alarms=alarms,
            signed_code=signed,
            capture=capture,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    def _signed_code(
        self, name: str, ctx: pol.AwsContext, tags: dict[str, str], key_arn: pulumi.Input[str]
    ) -> SignedCode:
        """Upload the zip to a versioned code bucket, sign it with AWS Signer, and enforce signatures."""
        project, stack = pulumi.get_project(), pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)
        bucket = s3.Bucket(
            f"{name}-code",
            bucket=pulumi.Output.all(ctx.account_id, ctx.region).apply(
                lambda ar: physical_name("aws:s3_bucket", project, stack, "api-code", ar[0], ar[1])
            ),
            force_destroy=True,  # only build outputs of this repository: a destroy may take them
            tags=tags,
            opts=child,
        )
        # Signer reads a specific object version: the source bucket must be versioned.
        pab = harden(self, f"{name}-code", bucket, sse={"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
                     versioning=True)  # fmt: skip
        lifecycle(self, f"{name}-code", bucket, [lifecycle_rule("old-code", noncurrent_days=OLD_CODE_DAYS)])
        tls_only_policy(self, f"{name}-code", bucket, pab)
        unsigned = s3.BucketObjectv2(
            f"{name}-code-unsigned",
            bucket=bucket.id,
            key="unsigned/function.zip",
            source=app_archive(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pab]),
        )
        profile = signer.SigningProfile(
            f"{name}-signing-profile",
            # Signer profiles are never deleted, only canceled, and a canceled name cannot be reused: a prefix.
            name_prefix=physical_name("aws:signer_profile", project, stack, "api") + "_",
            platform_id=SIGNING_PLATFORM,
            tags=tags,
            opts=child,
        )
        job = signer.SigningJob(
            f"{name}-signing-job",
            profile_name=profile.name,
            source={"s3": {"bucket": bucket.id, "key": unsigned.key, "version": unsigned.version_id}},
            destination={"s3": {"bucket": bucket.id, "prefix": "signed/"}},
            ignore_signing_job_failure=False,  # a failed signature fails the deploy
            opts=child,
        )
        config = lambda_.CodeSigningConfig(
            f"{name}-code-signing",
            description=f"{project}-{stack} API function: only code signed by this stack's profile",
            allowed_publishers={"signing_profile_version_arns": [profile.version_arn]},
            policies={"untrusted_artifact_on_deployment": "Enforce"},
            tags=tags,
            opts=child,
        )
        return SignedCode(bucket=bucket, unsigned=unsigned, profile=profile, job=job, config=config)


def _signed(objects: Any, field: str) -> str | None:
    """`bucket` or `key` of a signing job's signed object (None until the job ran, e.g. in a preview)."""
    for obj in objects or []:
        for location in getattr(obj, "s3s", None) or []:
            return getattr(location, field, None)
    return None
