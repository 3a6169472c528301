"""ModelEndpoint on AWS: lake key, data capture, serverless sizing, blue/green canary with the Observability alarms."""

from __future__ import annotations

import pulumi
from aws_support import KEY_ARN, actions_and_resources, bucket_arn, platform, role_statements, settled

from components.model_endpoint.spec import OUTPUTS, EndpointMode, ModelEndpointArgs
from tricloud.mocks import RecordingMocks

ENDPOINT = "tricloud-aws-dev-endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


@pulumi.runtime.test
def test_serverless_config_uses_the_lake_key_and_sizing_and_no_capture(mocks: RecordingMocks):
    platform(
        endpoint=ModelEndpointArgs(serverless_memory_mb=4096, serverless_max_concurrency=12),
        with_api=False,
    )

    def check() -> None:
        cfg = mocks.one(CONFIG).inputs
        assert cfg["kmsKeyArn"] == KEY_ARN
        (variant,) = cfg["productionVariants"]
        assert variant["serverlessConfig"] == {"memorySizeInMb": 4096, "maxConcurrency": 12}
        assert "instanceType" not in variant
        # SageMaker Serverless Inference refuses data capture: the default stack must not ask for it.
        assert "dataCaptureConfig" not in cfg
        model = mocks.one("aws:sagemaker/model:Model").inputs
        assert model["primaryContainer"]["modelDataUrl"] == (
            "s3://tricloud-aws-dev-artifacts-123456789012-ap-south-1/models/latest/model.tar.gz"
        )
        assert (
            model["primaryContainer"]["image"]
            == "123456789012.dkr.ecr.ap-south-1.amazonaws.com/tricloud-aws-dev:latest"
        )
        assert model["enableNetworkIsolation"] is False  # a serverless feature exclusion
        assert variant["modelName"] == mocks.one("aws:sagemaker/model:Model").id

    return settled(check)


@pulumi.runtime.test
def test_instance_mode_captures_to_the_lake_with_the_lake_key(mocks: RecordingMocks):
    platform(endpoint=ModelEndpointArgs(mode=EndpointMode.INSTANCE, data_capture_percent=30), with_api=False)

    def check() -> None:
        cap = mocks.one(CONFIG).inputs["dataCaptureConfig"]
        assert cap["destinationS3Uri"] == "s3://tricloud-aws-dev-artifacts-123456789012-ap-south-1/capture/"
        assert cap["kmsKeyId"] == KEY_ARN
        assert cap["initialSamplingPercentage"] == 30 and cap["enableCapture"] is True

    return settled(check)


def test_capture_default_follows_the_mode() -> None:
    assert ModelEndpointArgs().data_capture_percent == 0
    assert ModelEndpointArgs(mode=EndpointMode.INSTANCE).data_capture_percent == 20
    assert ModelEndpointArgs(mode=EndpointMode.INSTANCE, data_capture_percent=0).data_capture_percent == 0


@pulumi.runtime.test
def test_capture_off_when_percent_is_zero(mocks: RecordingMocks):
    platform(endpoint=ModelEndpointArgs(data_capture_percent=0), with_api=False)
    return settled(lambda: _absent(mocks.one(CONFIG).inputs, "dataCaptureConfig"))


def _absent(d: dict, key: str) -> None:
    assert key not in d, d[key]


@pulumi.runtime.test
def test_blue_green_canary_rolls_back_on_exactly_the_observability_alarms(mocks: RecordingMocks):
    p = platform(endpoint=ModelEndpointArgs(canary_percent=25, canary_wait_minutes=7), with_api=False)
    alarm_names = pulumi.Output.all(*[a.name for a in p.endpoint.native.alarms])

    def check(names: list[str], endpoint_name: str) -> None:
        ep = mocks.one("aws:sagemaker/endpoint:Endpoint")
        assert endpoint_name == ep.inputs["name"] == ENDPOINT
        dc = ep.inputs["deploymentConfig"]
        routing = dc["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
        assert routing == {
            "type": "CANARY",
            "canarySize": {"type": "CAPACITY_PERCENT", "value": 25},
            "waitIntervalInSeconds": 420,
        }
        rollback = [a["alarmName"] for a in dc["autoRollbackConfiguration"]["alarms"]]
        assert rollback == names
        observed = sorted(r.inputs["name"] for r in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
        assert (
            sorted(rollback)
            == observed
            == ["tricloud-aws-dev-endpoint-5xx", "tricloud-aws-dev-endpoint-latency-p99"]
        )
        for r in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
            assert r.inputs["dimensions"] == {"EndpointName": ENDPOINT, "VariantName": "primary"}
            assert r.parent == "observability"
        # The alarms exist before the endpoint that names them.
        assert set(ep.depends_on) >= {"observability-endpoint-5xx", "observability-endpoint-latency-p99"}
        assert mocks.registered_outputs["endpoint"] == sorted(OUTPUTS)

    return pulumi.Output.all(settled(lambda: None), alarm_names, p.endpoint.endpoint_name).apply(
        lambda v: check(v[1], v[2])
    )


@pulumi.runtime.test
def test_instance_mode_has_target_tracking_autoscaling(mocks: RecordingMocks):
    args = ModelEndpointArgs(
        mode=EndpointMode.INSTANCE,
        instance_type="ml.c5.large",
        min_instances=2,
        max_instances=5,
        target_invocations_per_instance=300,
    )
    platform(endpoint=args, with_api=False)

    def check() -> None:
        (variant,) = mocks.one(CONFIG).inputs["productionVariants"]
        assert variant["instanceType"] == "ml.c5.large" and variant["initialInstanceCount"] == 2
        assert "serverlessConfig" not in variant
        assert mocks.one("aws:sagemaker/model:Model").inputs["enableNetworkIsolation"] is True
        target = mocks.one("aws:appautoscaling/target:Target").inputs
        assert target["resourceId"] == f"endpoint/{ENDPOINT}/variant/primary"
        assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
        assert (target["minCapacity"], target["maxCapacity"]) == (2, 5)
        pol = mocks.one("aws:appautoscaling/policy:Policy").inputs
        assert pol["policyType"] == "TargetTrackingScaling"
        conf = pol["targetTrackingScalingPolicyConfiguration"]
        assert conf["targetValue"] == 300
        assert conf["predefinedMetricSpecification"] == {
            "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        }

    return settled(check)


@pulumi.runtime.test
def test_serverless_mode_has_no_autoscaling(mocks: RecordingMocks):
    platform(with_api=False)
    return settled(lambda: _assert_none(mocks.of_type("aws:appautoscaling/target:Target")))


def _assert_none(items: list) -> None:
    assert items == []


@pulumi.runtime.test
def test_endpoint_role_reads_models_writes_capture_and_never_reads_training_data(mocks: RecordingMocks):
    platform(with_api=False)

    def check() -> None:
        pairs = set(actions_and_resources(role_statements(mocks, "tricloud-aws-dev-sagemaker-endpoint")))
        assert ("s3:GetObject", bucket_arn("artifacts") + "/models/*") in pairs
        assert ("s3:PutObject", bucket_arn("artifacts") + "/capture/*") in pairs
        assert not any("curated" in r or "raw" in r for _, r in pairs)
        assert {r for a, r in pairs if a == "s3:PutObject"} == {bucket_arn("artifacts") + "/capture/*"}

    return settled(check)
