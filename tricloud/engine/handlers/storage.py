"""S3 buckets and their settings, KMS keys and aliases."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    PutHandler,
    Replace,
    Resource,
    as_json,
    found,
    ignore_gone,
    pascal,
    register,
    tag_list,
)
from tricloud.engine.state import Entry

S3_KEYS = {"sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID", "id": "ID"}


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every delete marker, then every object version; returns how many were removed.

    One call per version, markers first: moto fails when the last version left of a key is a delete marker.
    """
    removed = 0
    first = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
    if first.get("DeleteMarkers"):
        # Deleting versions of a bucket whose versioning was suspended (the BucketVersioning resource is
        # destroyed first) trips moto over its delete markers; re-enabling versioning gives the per-version path.
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    while True:  # deleting while paging skips entries past the first 1,000: list again until nothing is left
        before = removed
        for kind in ("DeleteMarkers", "Versions"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for v in page.get(kind, []):
                    s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
                    removed += 1
        if removed == before:
            return removed


@register("aws:s3/bucket:Bucket", "s3")
class Bucket(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        s3 = ctx.client("s3")
        name = r.physical("bucket")
        kwargs: dict[str, Any] = {"Bucket": name}
        if ctx.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        try:
            s3.create_bucket(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
            # Ours (the name carries account and region) but in no state: adopted, its data kept.
            r.adopted = f"adopted the existing bucket {name} (in no state file; its objects are kept)"
        if r.get("tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(r.get("tags"))})
        return name, {
            "bucket": name,
            "arn": f"arn:aws:s3:::{name}",
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
            "region": ctx.region,
            "tagsAll": r.get("tags", {}),
        }

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical("bucket") != old.id:
            raise Replace
        ctx.client("s3").put_bucket_tagging(Bucket=old.id, Tagging={"TagSet": tag_list(r.get("tags"))})
        return old.id, {**old.outputs, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        s3 = ctx.client("s3")

        def drop() -> None:
            # The local destroy removes demo data too (AWS would refuse a non-empty bucket without force_destroy):
            # the engine reports how many objects it removed. Access logs may still arrive from other buckets
            # (moto writes them per request): empty again and retry a few times.
            count = 0
            for attempt in range(4):
                count += empty_bucket(s3, e.id)
                try:
                    s3.delete_bucket(Bucket=e.id)
                    break
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "BucketNotEmpty" or attempt == 3:
                        raise
            if count:
                e.deviations.append(f"emptied {count} object versions before deleting the bucket")

        ignore_gone(drop)

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("s3").head_bucket(Bucket=e.id))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        e = Entry(self.type, r.name, r.physical("bucket"), {}, "")
        return [e] if self.exists(ctx, e) else []


class BucketSetting(PutHandler):
    """A per-bucket setting whose id is the bucket name."""

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        bucket = str(r.get("bucket"))
        self.put(ctx.client("s3"), bucket, r)
        return bucket, {}

    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        raise NotImplementedError

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: self.remove(ctx.client("s3"), e.id))

    def remove(self, s3: Any, bucket: str) -> None:
        raise NotImplementedError


@register("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "s3")
class BucketEncryption(BucketSetting):
    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        rules = pascal(r.get("rules", []), S3_KEYS)
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_encryption(Bucket=bucket)


@register("aws:s3/bucketVersioning:BucketVersioning", "s3")
class BucketVersioning(BucketSetting):
    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        conf = r.get("versioningConfiguration", {})
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": conf.get("status", "Enabled")}
        )

    def remove(self, s3: Any, bucket: str) -> None:
        # Versioning can only be suspended, never removed (as the provider does on delete).
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})


@register("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "s3")
class BucketPublicAccessBlock(BucketSetting):
    FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        conf = pascal({k: bool(r.get(k, False)) for k in self.FLAGS})
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=conf)

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_public_access_block(Bucket=bucket)


@register("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "s3")
class BucketOwnershipControls(BucketSetting):
    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        rule = pascal(r.get("rule", {}))
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [rule]})

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_ownership_controls(Bucket=bucket)


@register("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "s3")
class BucketLifecycle(BucketSetting):
    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        rules = pascal(r.get("rules", []), S3_KEYS)
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_lifecycle(Bucket=bucket)


@register("aws:s3/bucketLogging:BucketLogging", "s3")
class BucketLogging(BucketSetting):
    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        enabled = {"TargetBucket": r.get("targetBucket"), "TargetPrefix": r.get("targetPrefix", "")}
        # The stack orders this after the target's policy (granting logging.s3), as S3 requires.
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": enabled})

    def remove(self, s3: Any, bucket: str) -> None:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})


def _secure_transport_only(statement: dict[str, Any]) -> bool:
    cond = json.dumps(statement.get("Condition", {}))
    return statement.get("Effect") == "Deny" and "aws:SecureTransport" in cond


@register("aws:s3/bucketPolicy:BucketPolicy", "s3")
class BucketPolicy(BucketSetting):
    def put(self, s3: Any, bucket: str, r: Resource) -> None:
        doc = json.loads(as_json(r.get("policy")))
        statements = doc.get("Statement", [])
        kept = [s for s in statements if not _secure_transport_only(s)]
        if len(kept) != len(statements):
            # moto ignores Conditions, so a deny-unless-TLS statement would deny every call, and the emulator
            # speaks plain HTTP on loopback anyway: the statement is left out and the omission recorded.
            r.deviate(
                "DenyInsecureTransport statement not applied: the emulator serves plain HTTP on loopback and "
                "moto would apply the Deny without its aws:SecureTransport condition"
            )
        if kept:
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**doc, "Statement": kept}))
        else:
            s3.delete_bucket_policy(Bucket=bucket)

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_policy(Bucket=bucket)


@register("aws:kms/key:Key", "kms")
class KmsKey(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kms = ctx.client("kms")
        kwargs: dict[str, Any] = {
            "Description": r.get("description", ""),
            "KeyUsage": r.get("keyUsage", "ENCRYPT_DECRYPT"),
            "KeySpec": r.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"),
            "Tags": tag_list(r.get("tags"), "TagKey", "TagValue"),
        }
        if r.get("policy"):
            kwargs["Policy"] = as_json(r.get("policy"))
        meta = kms.create_key(**kwargs)["KeyMetadata"]
        key_id = meta["KeyId"]
        if r.get("enableKeyRotation"):
            rot: dict[str, Any] = {"KeyId": key_id}
            if r.get("rotationPeriodInDays"):
                rot["RotationPeriodInDays"] = int(r.get("rotationPeriodInDays"))
            kms.enable_key_rotation(**rot)
        return key_id, {
            "keyId": key_id,
            "arn": meta["Arn"],
            "deletionWindowInDays": r.get("deletionWindowInDays", 30),
            "tagsAll": r.get("tags", {}),
        }

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        kms = ctx.client("kms")
        if r.get("policy"):
            kms.put_key_policy(KeyId=old.id, PolicyName="default", Policy=as_json(r.get("policy")))
        if r.get("description") is not None:
            kms.update_key_description(KeyId=old.id, Description=r.get("description"))
        if r.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=old.id)
        else:
            kms.disable_key_rotation(KeyId=old.id)
        return old.id, {**old.outputs, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        # Keys are never deleted at once in AWS: they are scheduled (7-30 days), as here.
        days = int(e.outputs.get("deletionWindowInDays") or 30)
        ignore_gone(lambda: ctx.client("kms").schedule_key_deletion(KeyId=e.id, PendingWindowInDays=days))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        try:
            meta = ctx.client("kms").describe_key(KeyId=e.id)["KeyMetadata"]
        except Exception:
            return False
        return meta.get("KeyState") != "PendingDeletion"

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        """Key ids are generated: a key is the stack's when its description and tags are the program's."""
        kms, out = ctx.client("kms"), []
        want = {t["TagKey"]: t["TagValue"] for t in tag_list(r.get("tags"), "TagKey", "TagValue")}
        for page in kms.get_paginator("list_keys").paginate():
            for k in page["Keys"]:
                meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
                if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") == "PendingDeletion":
                    continue
                if meta.get("Description", "") != r.get("description", ""):
                    continue
                tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]}
                if tags == want:
                    out.append(Entry(self.type, r.name, k["KeyId"], {"deletionWindowInDays": 7}, ""))
        return out


@register("aws:kms/alias:Alias", "kms")
class KmsAlias(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        ctx.client("kms").create_alias(AliasName=name, TargetKeyId=str(r.get("targetKeyId")))
        return name, {
            "name": name,
            "arn": ctx.arn("kms", name),
            "targetKeyArn": ctx.arn("kms", f"key/{r.get('targetKeyId')}"),
        }

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.id:
            raise Replace
        ctx.client("kms").update_alias(AliasName=old.id, TargetKeyId=str(r.get("targetKeyId")))
        return old.id, {**old.outputs, "targetKeyArn": ctx.arn("kms", f"key/{r.get('targetKeyId')}")}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("kms").delete_alias(AliasName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        aliases = ctx.client("kms").get_paginator("list_aliases").paginate()
        return any(a["AliasName"] == e.id for page in aliases for a in page["Aliases"])
