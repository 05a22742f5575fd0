"""Storage: the single DynamoDB table, the recordings bucket, the access-log bucket and the KMS key.

The table's name, keys, indexes and TTL attribute come from :mod:`callingbox.core.resources`
(``table_definition()``), the definition the local stack provisions from. Everything holding
customer data is encrypted with one customer-managed key and retained when the stack is deleted.
"""

from __future__ import annotations

from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from callingbox.core import resources

from ..nag import acknowledge

__all__ = ["Storage"]

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
                    "B": dynamodb.AttributeType.BINARY}
_PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL, "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
                "INCLUDE": dynamodb.ProjectionType.INCLUDE}


def _attribute(definition: Mapping[str, Any], key_schema: list[dict[str, str]], key_type: str) -> dynamodb.Attribute:
    name = next(key["AttributeName"] for key in key_schema if key["KeyType"] == key_type)
    types = {attribute["AttributeName"]: attribute["AttributeType"] for attribute in definition["AttributeDefinitions"]}
    return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[types[name]])


class Storage(Construct):
    """The table, the recordings bucket and the key that encrypts them (and the queues and secrets).

    Attributes: ``key``, ``table``, ``recordings_bucket``, ``access_logs_bucket``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self, "Key",
            description="CallingBox data at rest: table, recordings, queues, secrets",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.table = self._table()
        self.access_logs_bucket = self._access_logs_bucket(retention_days)
        self.recordings_bucket = s3.Bucket(
            self, "Recordings",
            # Bucket names are global: the account and region make the shared name unique.
            bucket_name=f"{resources.RECORDINGS_BUCKET}-{cdk.Aws.ACCOUNT_ID}-{cdk.Aws.REGION}",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # one KMS request per object batch, not per object
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-recordings",
                expiration=cdk.Duration.days(retention_days),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )],
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="s3/recordings/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _table(self) -> dynamodb.Table:
        definition = resources.table_definition()
        keys = definition["KeySchema"]
        table = dynamodb.Table(
            self, "Table",
            table_name=definition["TableName"],
            partition_key=_attribute(definition, keys, "HASH"),
            sort_key=_attribute(definition, keys, "RANGE"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=resources.TTL_ATTRIBUTE,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for index in definition["GlobalSecondaryIndexes"]:
            projection = index["Projection"]
            table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=_attribute(definition, index["KeySchema"], "HASH"),
                sort_key=_attribute(definition, index["KeySchema"], "RANGE"),
                projection_type=_PROJECTIONS[projection["ProjectionType"]],
                non_key_attributes=projection.get("NonKeyAttributes"),
            )
        return table

    def _access_logs_bucket(self, retention_days: int) -> s3.Bucket:
        bucket = s3.Bucket(
            self, "AccessLogs",
            # S3 server access logs and ALB access logs can only be delivered to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=cdk.Duration.days(retention_days))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # S3 and the load balancer deliver logs by bucket policy (CDK adds the statements; the
        # context flag @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy keeps ACLs out of it).
        acknowledge(bucket, "AwsSolutions-S1",
                    "This is the access-log bucket itself; logging its own accesses into itself would loop.")
        return bucket
