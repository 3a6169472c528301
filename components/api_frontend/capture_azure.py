"""Prediction capture on Azure: the Function App's diagnostic setting archives its `FunctionAppLogs` (which carry
the handler's capture lines) to the lake's storage account.

No per-request call and no extra service: Azure Monitor batches the records into hourly append blobs,
`insights-logs-functionapplogs/resourceId=<app>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, in the lake account (its
firewall lets trusted Azure services in; its customer-managed key encrypts them). Event Hubs Capture would cost a
throughput unit and capture fees (about 100 USD a month) for what the log pipeline already carries.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.storage as storage

CAPTURE_CONTAINER = "insights-logs-functionapplogs"  # Azure Monitor's fixed container for this category


def capture_uri(lake: object) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "abfss://", CAPTURE_CONTAINER, "@", lake.account_name, ".dfs.core.windows.net/"
    )  # type: ignore[attr-defined]


def container(parent: pulumi.Resource, name: str, *, lake: object) -> storage.BlobContainer:
    """The container Azure Monitor would create on its first write, made up front: the drift job's role
    assignment is scoped to it and its job input mounts it, and neither can name a container that does not exist."""
    native = lake.native  # type: ignore[attr-defined]
    return storage.BlobContainer(
        f"{name}-capture-container",
        container_name=CAPTURE_CONTAINER,
        account_name=lake.account_name,  # type: ignore[attr-defined]
        resource_group_name=native.resource_group.name,
        public_access="None",
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[native.blob_service]),
    )


def deliver(
    parent: pulumi.Resource, name: str, *, function_app_id: pulumi.Input[str], lake: object
) -> monitor.DiagnosticSetting:
    return monitor.DiagnosticSetting(
        f"{name}-capture",
        name="capture-to-lake",
        resource_uri=function_app_id,
        storage_account_id=lake.account_id,  # type: ignore[attr-defined]
        logs=[monitor.DiagnosticsLogSettingsArgs(category="FunctionAppLogs", enabled=True)],
        opts=pulumi.ResourceOptions(parent=parent),
    )
