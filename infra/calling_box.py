"""The ``CallingBox`` construct: every concern composed, and the wiring between them in one place.

IAM reads from top to bottom here: :data:`ACCESS` says what each component may touch, and
:meth:`CallingBox._grant` turns one row into exact statements. No grant uses a wildcard action,
and data resources are named one by one (the table and each of its indexes, each queue, the bus,
each secret, the recordings bucket's objects, the key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from callingbox.core import resources

from .bundles import LambdaBundles
from .config import DeployConfig, is_inference_profile
from .constructs.api import Api, ApiDomain
from .constructs.messaging import Messaging
from .constructs.monitoring import MonitoredApi, Monitoring
from .constructs.secret_store import Secrets
from .constructs.storage import Storage
from .constructs.voice_gateway import GatewaySizing, VoiceGateway
from .constructs.workers import WORKERS, Workers
from .environment import RuntimeResources, gateway_environment, lambda_environment
from .nag import acknowledge

__all__ = ["CallingBox", "Access", "ACCESS", "TABLE_ACTIONS", "BEDROCK_ACTIONS", "TRANSCRIBE_ACTIONS",
           "POLLY_ACTIONS"]

TABLE_ACTIONS = (
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable",
)
# What a principal needs of the customer-managed key to use the table, queues and bucket it encrypts.
KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
SEND_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
BEDROCK_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")  # Converse(Stream) too
TRANSCRIBE_ACTIONS = ("transcribe:StartStreamTranscription", "transcribe:StartStreamTranscriptionWebSocket")
POLLY_ACTIONS = ("polly:SynthesizeSpeech",)
TASK_PROTECTION_ACTIONS = ("ecs:UpdateTaskProtection", "ecs:GetTaskProtection")


@dataclass(frozen=True)
class Access:
    """What one component may do besides reading and writing the table (which all of them do)."""

    sends: tuple[str, ...] = ()  # queues (names of resources.QUEUES) it enqueues to; a consumer's
    # own source queue is granted by its event source mapping
    puts_events: bool = False
    twilio: bool = False  # reads the Twilio credentials
    stream_token_key: bool = False  # reads the stream-token key (signs stream tokens)
    bedrock: bool = False  # invokes the configured Bedrock models
    recordings: Optional[Literal["read", "write"]] = None


ACCESS: dict[str, Access] = {
    # Dispatches calls, answers the carrier's webhooks (inbound TwiML carries a signed stream token;
    # status callbacks end calls and emit their events), presigns recording downloads, buys numbers.
    "api": Access(sends=("dial", "extraction", "webhooks"), puts_events=True, twilio=True, stream_token_key=True,
                  recordings="read"),
    # Dials through Twilio with a signed stream token; re-queues paced jobs; a failed dial is an event.
    "dialer": Access(sends=("dial", "webhooks"), puts_events=True, twilio=True, stream_token_key=True),
    # Reads the transcript against the agent's schema with the model, then emits call.completed.
    "extraction": Access(sends=("webhooks",), puts_events=True, bedrock=True),
    # Delivers signed webhooks; a failed attempt is re-queued with backoff.
    "webhooks": Access(sends=("webhooks",)),
    # Ends calls whose gateway stopped reporting (a table write) and announces call.failed (the
    # event stored, put on the bus, its fan-out queued). No carrier: a lost stream's call is hung
    # up by the carrier's own <Connect action>; no post-call work for a failed call.
    "sweeper": Access(sends=("webhooks",), puts_events=True),
    # Runs the conversation: writes the transcript and recording, queues extraction when the call ends.
    "gateway": Access(sends=("extraction", "webhooks"), puts_events=True, bedrock=True, recordings="write"),
}


def bedrock_resources(model_ids: tuple[str, ...], *, partition: str, region: str, account: str) -> list[str]:
    """The ARNs that allow invoking exactly ``model_ids`` (a cross-region inference profile also
    needs its foundation model in each region it routes to)."""
    arns: list[str] = []
    for model_id in model_ids:
        if is_inference_profile(model_id):
            base = model_id.split(".", 1)[1]
            arns.append(f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}")
            arns.append(f"arn:{partition}:bedrock:*::foundation-model/{base}")
        else:
            arns.append(f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}")
    return arns


class CallingBox(Construct):
    """The whole platform. Attributes: ``storage``, ``messaging``, ``secrets``, ``api``, ``workers``,
    ``gateway``, ``monitoring``, ``api_url``, ``voice_webhook_url``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, bundles: LambdaBundles,
                 scratch_dir: Path, build_context: Path) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        retention = _log_retention(config.log_retention_days)
        self.storage = Storage(self, "Storage", retention_days=config.retention_days)
        self.messaging = Messaging(self, "Messaging", key=self.storage.key,
                                   archive_retention_days=config.retention_days)
        self.secrets = Secrets(self, "Secrets", key=self.storage.key)

        # The gateway's URL is known before the API exists (the load balancer's name); the API's
        # URL is known only after (its id), so the gateway and workers are built after the API.
        self.gateway = self._gateway(retention, build_context)
        domain = None
        if config.api_domain and config.certificate_arn:
            domain = ApiDomain(config.api_domain, config.certificate_arn)
        # The API's own URL cannot be in its environment without a cycle (the RestApi refers to the
        # function): with a custom domain it is known up front; without one the function takes it
        # from the request (API Gateway's requestContext.domainName and stage).
        api_names = self._names(public_api_url=f"https://{domain.domain_name}" if domain else None)
        self.api = Api(
            self, "Api",
            project_dir=bundles.api_project,
            scratch_dir=scratch_dir,
            environment=lambda_environment(config, api_names, component="api",
                                           signing_secret_arn=self._signing_secret_arn("api")),
            domain=domain,
            log_retention=retention,
            packaging_region=config.region or "us-east-1",
        )
        self.api_url = self.api.url
        self.voice_webhook_url = f"{self.api_url}/twilio/voice"
        names = self._names(public_api_url=self.api_url)
        for variable, value in gateway_environment(config, names).items():
            self.gateway.container.add_environment(variable, value)
        self.workers = Workers(
            self, "Workers",
            asset_dir=bundles.workers,
            queues=self.messaging.queues,
            environment={spec.name: lambda_environment(config, names, component=spec.name,
                                                        signing_secret_arn=self._signing_secret_arn(spec.name))
                         for spec in WORKERS},
            log_retention=retention,
        )
        self._grant("api", self.api.role)
        for name, role in self.workers.roles.items():
            self._grant(name, role)
        self._grant("gateway", self.gateway.task_definition.task_role)
        self._gateway_permissions()
        self.monitoring = Monitoring(
            self, "Monitoring",
            key=self.storage.key,
            api=MonitoredApi(function_name=self.api.function.ref, api_name=_chalice_app_name(bundles)),
            workers=self.workers.functions,
            queues=self.messaging.queues,
            dead_letter_queues=self.messaging.dead_letter_queues,
            dead_letter_alarms=self.messaging.dead_letter_alarms,
            gateway=self.gateway,
            alarm_email=config.alarm_email,
        )

    # -- building blocks ---------------------------------------------------------------------

    def _signing_secret_arn(self, component: str) -> Optional[str]:
        """The stream-token key's secret ARN for a component that signs stream tokens, else ``None``."""
        return self.secrets.stream_token.secret_arn if ACCESS[component].stream_token_key else None

    def _names(self, *, public_api_url: Optional[str]) -> RuntimeResources:
        return RuntimeResources(
            table_name=self.storage.table.table_name,
            queue_urls={name: queue.queue_url for name, queue in self.messaging.queues.items()},
            event_bus_name=self.messaging.bus.event_bus_name,
            recordings_bucket=self.storage.recordings_bucket.bucket_name,
            twilio_secret_arn=self.secrets.twilio.secret_arn,
            gateway_url=self.gateway.url,
            public_api_url=public_api_url,
        )

    def _gateway(self, retention: logs.RetentionDays, build_context: Path) -> VoiceGateway:
        config = self.config
        return VoiceGateway(
            self, "VoiceGateway",
            build_context=build_context,
            environment={},  # filled in once the API's URL exists (see __init__)
            secrets={
                "CALLINGBOX_STREAM_TOKEN_SECRET": ecs.Secret.from_secrets_manager(self.secrets.stream_token),
                "CALLINGBOX_TOOL_SIGNING_SECRET": ecs.Secret.from_secrets_manager(self.secrets.tool_signing),
            },
            sizing=GatewaySizing(min_tasks=config.gateway_min_tasks, max_tasks=config.gateway_max_tasks,
                                 calls_per_task=config.gateway_calls_per_task),
            certificate_arn=config.certificate_arn,
            domain_name=config.gateway_domain,
            access_logs_bucket=self.storage.access_logs_bucket,
            log_retention=retention,
        )

    def _grant(self, component: str, role: iam.IRole) -> None:
        """Turn ``ACCESS[component]`` (plus the table, which everyone uses) into IAM statements."""
        access = ACCESS[component]
        table = self.storage.table
        indexes = [f"{table.table_arn}/index/{index['IndexName']}"
                   for index in resources.table_definition()["GlobalSecondaryIndexes"]]
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(TABLE_ACTIONS),
                                                         resources=[table.table_arn, *indexes]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(KEY_ACTIONS),
                                                         resources=[self.storage.key.key_arn]))
        if access.sends:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=list(SEND_ACTIONS),
                resources=[self.messaging.queues[name].queue_arn for name in access.sends]))
        if access.puts_events:
            self.messaging.bus.grant_put_events_to(role)
        if access.twilio:
            self.secrets.twilio.grant_read(role)
        if access.stream_token_key:
            self.secrets.stream_token.grant_read(role)
        if access.bedrock:
            stack = cdk.Stack.of(self)
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=list(BEDROCK_ACTIONS),
                resources=bedrock_resources(self.config.bedrock_model_ids, partition=stack.partition,
                                            region=stack.region, account=stack.account)))
            if any(is_inference_profile(model_id) for model_id in self.config.bedrock_model_ids):
                acknowledge(role, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/"
                                  f"{self.config.bedrock_model_ids[0].split('.', 1)[1]}]",
                            "A cross-region inference profile routes to the same model in several regions.")
        if access.recordings is not None:
            action = "s3:GetObject" if access.recordings == "read" else "s3:PutObject"
            bucket = self.storage.recordings_bucket
            role.add_to_principal_policy(iam.PolicyStatement(actions=[action], resources=[bucket.arn_for_objects("*")]))
            acknowledge(role, f"AwsSolutions-IAM5[Resource::<{_logical_id(bucket)}.Arn>/*]",
                        "Recordings are one object per call (recordings/<workspace>/<call>.wav): the objects "
                        "of this one bucket, with a single exact action.")

    def _gateway_permissions(self) -> None:
        """Speech services, and scale-in protection for tasks with live calls."""
        task_role = self.gateway.task_definition.task_role
        task_role.add_to_principal_policy(iam.PolicyStatement(actions=list(TRANSCRIBE_ACTIONS), resources=["*"]))
        task_role.add_to_principal_policy(iam.PolicyStatement(actions=list(POLLY_ACTIONS), resources=["*"]))
        stack = cdk.Stack.of(self)
        task_role.add_to_principal_policy(iam.PolicyStatement(
            actions=list(TASK_PROTECTION_ACTIONS),
            resources=[f"arn:{stack.partition}:ecs:{stack.region}:{stack.account}:task/"
                       f"{self.gateway.cluster.cluster_name}/*"]))
        acknowledge(task_role, "AwsSolutions-IAM5[Resource::*]",
                    "Transcribe streaming and Polly SynthesizeSpeech have no resource-level permissions; "
                    "the statements allow those exact actions only.")
        acknowledge(task_role, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:{_nag_text(stack.region)}:"
                               f"{_nag_text(stack.account)}:task/<{_logical_id(self.gateway.cluster)}>/*]",
                    "A task protects itself from scale-in while it has live calls; task ids are not known "
                    "in advance, so the grant covers the tasks of this cluster only.")


def _nag_text(value: str) -> str:
    """How cdk-nag writes a stack's region or account in a finding: the value, or its pseudo parameter."""
    if not cdk.Token.is_unresolved(value):
        return value
    return "<AWS::Region>" if value == cdk.Aws.REGION else "<AWS::AccountId>"


def _logical_id(construct: Construct) -> str:
    """The logical id of ``construct``'s CloudFormation resource (how cdk-nag names it in findings)."""
    return cdk.Stack.of(construct).get_logical_id(construct.node.default_child)  # type: ignore[arg-type]


def _chalice_app_name(bundles: LambdaBundles) -> str:
    """API Gateway names the API after the Chalice app (its metrics' ``ApiName`` dimension)."""
    return json.loads((bundles.api_project / ".chalice" / "config.json").read_text())["app_name"]


# The retention periods CloudWatch Logs accepts, in the order of logs.RetentionDays (INFINITE last).
_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                   3288, 3653)


def _log_retention(days: int) -> logs.RetentionDays:
    """The shortest retention CloudWatch Logs accepts that keeps logs at least ``days`` days."""
    finite = [member for member in logs.RetentionDays if member.name != "INFINITE"]
    for allowed, member in zip(_RETENTION_DAYS, finite, strict=True):
        if allowed >= days:
            return member
    return finite[-1]
