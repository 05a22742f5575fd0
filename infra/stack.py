"""The stack: the :class:`~infra.calling_box.CallingBox` construct and the deployment's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from .bundles import LambdaBundles
from .calling_box import CallingBox
from .config import DeployConfig

__all__ = ["CallingBoxStack", "STACK_NAME"]

STACK_NAME = "CallingBox"


class CallingBoxStack(cdk.Stack):
    """Everything of one deployment. Attribute: ``platform`` (the :class:`CallingBox` construct)."""

    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, *, config: DeployConfig,
                 bundles: LambdaBundles, scratch_dir: Path, build_context: Path, **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         description="CallingBox: self-hosted voice-AI calling platform", **kwargs)
        cdk.Tags.of(self).add("project", "callingbox")
        # cfn-lint W3005 flags the DependsOn that CDK adds next to a Ref to the same resource (a
        # function on its role's policy, a service on its listener): redundant, and CDK's to keep.
        self.template_options.metadata = {"cfn-lint": {"config": {"ignore_checks": ["W3005"]}}}
        self.platform = CallingBox(self, "Platform", config=config, bundles=bundles, scratch_dir=scratch_dir,
                                   build_context=build_context)
        platform = self.platform
        for name, value, description in (
            ("ApiUrl", platform.api_url, "Base URL of the CallingBox API (the SDK's base_url)"),
            ("VoiceWebhookUrl", platform.voice_webhook_url, "Voice webhook URL to set on Twilio numbers (POST)"),
            ("EventBusName", platform.messaging.bus.event_bus_name, "EventBridge bus the call events go to"),
            ("GatewayUrl", platform.gateway.url, "Websocket URL of the voice gateway's media streams"),
            ("LoadBalancerDnsName", platform.gateway.load_balancer.load_balancer_dns_name,
             "Point voice.<domain_name> here (CNAME) when a domain is configured"),
            ("TableName", platform.storage.table.table_name, "DynamoDB table (CALLINGBOX_TABLE for the CLI)"),
            ("RecordingsBucketName", platform.storage.recordings_bucket.bucket_name, "Call recordings"),
            ("TwilioSecretArn", platform.secrets.twilio.secret_arn,
             'Put {"account_sid": "AC...", "auth_token": "..."} here'),
            ("AlarmTopicArn", platform.monitoring.topic.topic_arn, "Subscribe to get the alarms"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)
        if platform.api.domain_target is not None:
            cdk.CfnOutput(self, "ApiDomainTarget", value=platform.api.domain_target,
                          description="Point api.<domain_name> here (CNAME)")
