"""ApiFrontend on AWS: the function may invoke only this endpoint; routes, auth, throttling, access logs, CORS."""

from __future__ import annotations

import json

import pulumi
from aws_support import KEY_ARN, actions_and_resources, platform, role_statements, settled

from components.api_frontend.spec import OUTPUTS, ApiAuth, ApiFrontendArgs
from tricloud.mocks import RecordingMocks

ENDPOINT_ARN = "arn:aws:sagemaker:ap-south-1:123456789012:endpoint/tricloud-aws-dev-endpoint"
ROUTE = "aws:apigatewayv2/route:Route"


@pulumi.runtime.test
def test_function_role_can_invoke_only_this_endpoint(mocks: RecordingMocks):
    platform()

    def check() -> None:
        pairs = set(actions_and_resources(role_statements(mocks, "tricloud-aws-dev-api-function")))
        assert {r for a, r in pairs if a.startswith("sagemaker:")} == {ENDPOINT_ARN}
        assert {a for a, _ in pairs if a.startswith("sagemaker:")} == {"sagemaker:InvokeEndpoint"}
        assert {a for a, r in pairs if r == "*"} == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
        logs = {r for a, r in pairs if a.startswith("logs:")}
        assert logs == {"arn:aws:logs:ap-south-1:123456789012:log-group:/aws/lambda/tricloud-aws-dev-api:*"}
        assert {a for a, _ in pairs} <= {
            "sagemaker:InvokeEndpoint", "logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt",
            "kms:DescribeKey", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
        }  # fmt: skip

    return settled(check)


@pulumi.runtime.test
def test_function_settings_environment_tracing_and_log_group_first(mocks: RecordingMocks):
    platform(
        api=ApiFrontendArgs(
            memory_mb=256,
            timeout_seconds=12,
            reserved_concurrency=7,
            endpoint_timeout_ms=1500,
            fallback_enabled=False,
        )
    )

    def check() -> None:
        fn = mocks.one("aws:lambda/function:Function")
        i = fn.inputs
        assert (i["runtime"], i["handler"]) == ("python3.12", "app.frontend.aws_lambda.handler")
        assert (i["memorySize"], i["timeout"], i["reservedConcurrentExecutions"]) == (256, 12, 7)
        assert i["environment"]["variables"] == {
            "ENDPOINT_NAME": "tricloud-aws-dev-endpoint",
            "ENDPOINT_TIMEOUT_MS": "1500",
            "ENDPOINT_MAX_ATTEMPTS": "2",
            "FALLBACK_ENABLED": "false",
            "LOG_LEVEL": "INFO",
            "CAPTURE_PERCENT": "0",  # no capture unless the stack asks for it (issue 11)
        }
        assert i["tracingConfig"] == {"mode": "Active"}
        assert i["kmsKeyArn"] == KEY_ARN
        archive = i["code"]["archive"]  # the repository's app/ at app/ in the zip, without caches
        assert archive["app/frontend/aws_lambda.py"] == {"file_asset": "app/frontend/aws_lambda.py"}
        assert {"app/__init__.py", "app/frontend/core.py", "app/schema.py", "app/market.py"} <= set(archive)
        assert all(
            k.startswith("app/") and "__pycache__" not in k and not k.endswith(".pyc") for k in archive
        )
        logs = mocks.one("aws:cloudwatch/logGroup:LogGroup", "api-function-logs").inputs
        assert logs["name"] == "/aws/lambda/tricloud-aws-dev-api" and logs["retentionInDays"] == 30
        assert "api-function-logs" in fn.depends_on

    return settled(check)


@pulumi.runtime.test
def test_routes_predict_needs_iam_health_is_open(mocks: RecordingMocks):
    p = platform()

    def check(values: list[str]) -> None:
        routes = {r.inputs["routeKey"]: r.inputs for r in mocks.of_type(ROUTE)}
        assert set(routes) == {"POST /predict", "GET /health"}
        assert routes["POST /predict"]["authorizationType"] == "AWS_IAM"
        assert routes["GET /health"]["authorizationType"] == "NONE"
        integ = mocks.one("aws:apigatewayv2/integration:Integration")
        assert all(r["target"] == f"integrations/{integ.id}" for r in routes.values())
        assert (
            integ.inputs["integrationType"] == "AWS_PROXY" and integ.inputs["payloadFormatVersion"] == "2.0"
        )
        assert (
            integ.inputs["integrationUri"]
            == "arn:aws:lambda:ap-south-1:123456789012:function:tricloud-aws-dev-api"
        )
        assert mocks.of_type("aws:apigatewayv2/authorizer:Authorizer") == []
        api = mocks.one("aws:apigatewayv2/api:Api")
        assert api.inputs["protocolType"] == "HTTP" and "corsConfiguration" not in api.inputs
        assert values[0] == f"https://{api.id}.execute-api.ap-south-1.amazonaws.com/"
        assert values[1] == "tricloud-aws-dev-api"
        assert mocks.registered_outputs["api"] == sorted(OUTPUTS)

    assert p.api is not None
    return pulumi.Output.all(settled(lambda: None), p.api.api_url, p.api.function_name).apply(
        lambda v: check(v[1:])
    )


@pulumi.runtime.test
def test_jwt_auth_adds_an_authorizer_on_predict(mocks: RecordingMocks):
    args = ApiFrontendArgs(
        auth=ApiAuth.JWT, jwt_issuer="https://login.example.com/", jwt_audience=("tricloud",)
    )
    platform(api=args)

    def check() -> None:
        auth = mocks.one("aws:apigatewayv2/authorizer:Authorizer")
        assert auth.inputs["authorizerType"] == "JWT"
        assert auth.inputs["jwtConfiguration"] == {
            "issuer": "https://login.example.com/",
            "audiences": ["tricloud"],
        }
        assert auth.inputs["identitySources"] == ["$request.header.Authorization"]
        routes = {r.inputs["routeKey"]: r.inputs for r in mocks.of_type(ROUTE)}
        assert routes["POST /predict"]["authorizationType"] == "JWT"
        assert routes["POST /predict"]["authorizerId"] == auth.id
        assert routes["GET /health"]["authorizationType"] == "NONE"

    return settled(check)


@pulumi.runtime.test
def test_stage_throttles_and_writes_json_access_logs(mocks: RecordingMocks):
    platform(api=ApiFrontendArgs(throttle_rate_per_second=20, throttle_burst=40, log_retention_days=90))

    def check() -> None:
        stage = mocks.one("aws:apigatewayv2/stage:Stage").inputs
        assert stage["name"] == "$default" and stage["autoDeploy"] is True
        assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 20
        assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == 40
        access = mocks.one("aws:cloudwatch/logGroup:LogGroup", "api-access-logs").inputs
        assert access["retentionInDays"] == 90
        assert stage["accessLogSettings"]["destinationArn"] == (
            "arn:aws:logs:ap-south-1:123456789012:log-group:" + access["name"]
        )
        fmt = json.loads(stage["accessLogSettings"]["format"])
        assert fmt["status"] == "$context.status" and fmt["requestId"] == "$context.requestId"
        perm = mocks.one("aws:lambda/permission:Permission").inputs
        api = mocks.one("aws:apigatewayv2/api:Api")
        assert perm["principal"] == "apigateway.amazonaws.com"
        assert perm["sourceArn"] == f"arn:aws:execute-api:ap-south-1:123456789012:{api.id}/*/*"

    return settled(check)


@pulumi.runtime.test
def test_cors_only_for_listed_origins(mocks: RecordingMocks):
    platform(api=ApiFrontendArgs(cors_origins=("https://demo.example.in",)))

    def check() -> None:
        cors = mocks.one("aws:apigatewayv2/api:Api").inputs["corsConfiguration"]
        assert cors["allowOrigins"] == ["https://demo.example.in"]
        assert set(cors["allowMethods"]) == {"GET", "POST"}

    return settled(check)
