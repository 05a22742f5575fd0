"""The HTTP API: the Chalice app (every /v1 route and the carrier webhooks) on API Gateway.

Deployed through :class:`chalice.cdk.Chalice`, which runs Chalice's own packaging on the staged
project (:func:`infra.bundles.stage_bundles`) and includes the SAM template it produces. What
Chalice does not configure is added here: a role of our own (so every grant is visible in the
stack), the function's log group, API Gateway access and execution logs, throttling, and a
regional custom domain when one is configured.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from chalice.cdk import Chalice
from constructs import Construct

from ..bundles import LAMBDA_PYTHON
from ..nag import acknowledge

__all__ = ["Api", "ApiDomain", "API_STAGE", "API_TIMEOUT_S"]

API_STAGE = "api"
API_TIMEOUT_S = 29  # API Gateway's integration timeout: a longer Lambda timeout would never be used
API_MEMORY_MB = 1024  # Lambda CPU scales with memory; the cold start is what this buys
# Steady-state and burst request rates per second for the whole stage (API Gateway throttling).
THROTTLE_RATE = 200
THROTTLE_BURST = 400
_ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod",'
    '"path":"$context.path","status":"$context.status","latencyMs":"$context.responseLatency",'
    '"integrationMs":"$context.integrationLatency","time":"$context.requestTimeEpoch"}'
)


@dataclass(frozen=True)
class ApiDomain:
    """A custom domain for the API (a regional ACM certificate in the stack's region)."""

    domain_name: str
    certificate_arn: str


@contextlib.contextmanager
def _packaging_environment(directory: Path, region: str) -> Iterator[None]:
    """Chalice writes ``chalice.out/`` into the working directory and asks botocore for a region
    (only to name the partition's service principals): give it a scratch directory and a region."""
    shutil.rmtree(directory / "chalice.out", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        with contextlib.chdir(directory):
            yield
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


class Api(Construct):
    """The Chalice API. Attributes: ``chalice``, ``role``, ``log_group``, ``function`` (the
    ``APIHandler`` resource), ``rest_api`` (the ``RestAPI`` resource), ``url`` (no trailing slash),
    ``domain_target`` (the CNAME target of the custom domain, or ``None``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_dir: Path,
        scratch_dir: Path,
        environment: Mapping[str, str],
        domain: Optional[ApiDomain],
        log_retention: logs.RetentionDays,
        packaging_region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description="CallingBox API function")
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention,
                                       removal_policy=cdk.RemovalPolicy.DESTROY)
        self.log_group.grant_write(self.role)

        stage_config: dict[str, object] = {
            "api_gateway_stage": API_STAGE,
            # Regional, so one regional certificate serves the API and the gateway's load balancer.
            "api_gateway_endpoint_type": "REGIONAL",
            "manage_iam_role": False,
            "iam_role_arn": self.role.role_arn,
            "lambda_memory_size": API_MEMORY_MB,
            "lambda_timeout": API_TIMEOUT_S,
            "automatic_layer": False,
            "environment_variables": dict(environment),
        }
        if domain is not None:
            stage_config["api_gateway_custom_domain"] = {
                "domain_name": domain.domain_name,
                "certificate_arn": domain.certificate_arn,
                "tls_version": "TLS_1_2",
            }
        with _packaging_environment(scratch_dir, packaging_region):
            self.chalice = Chalice(self, "Chalice", source_dir=str(project_dir), stage_config=stage_config)

        self.function = self.chalice.get_resource("APIHandler")
        self.function.add_property_override("LoggingConfig", {"LogGroup": self.log_group.log_group_name})
        # Chalice names the synthesizing interpreter's version; the bundle is built for LAMBDA_PYTHON.
        self.function.add_property_override("Runtime", f"python{LAMBDA_PYTHON}")
        self.rest_api = self.chalice.get_resource("RestAPI")
        self._logging(log_retention)
        if domain is not None:
            # Chalice maps the domain to the stage by name; refer to SAM's stage resource instead,
            # so CloudFormation creates the stage before the mapping that needs it.
            mapping = self.chalice.get_resource("ApiGatewayCustomDomainMapping")
            mapping.add_property_override("Stage", {"Ref": "RestAPI.Stage"})
            acknowledge(mapping, "CloudFormation-Validate::F1020",
                        "RestAPI.Stage is a referenceable property of AWS::Serverless::Api that the SAM "
                        "transform resolves; CDK's own template check does not know SAM (cfn-lint does).")
            self.url = f"https://{domain.domain_name}"
            # Where the domain's CNAME points (API Gateway's regional endpoint for the domain).
            self.domain_target: Optional[str] = self.chalice.get_resource("ApiGatewayCustomDomain").get_att(
                "RegionalDomainName").to_string()
        else:
            self.domain_target = None
            self.url = f"https://{self.rest_api.ref}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/{API_STAGE}"
        self._acknowledge()

    def _logging(self, retention: logs.RetentionDays) -> None:
        """Access logs, error-level execution logs and metrics, stage throttling."""
        self.access_log_group = logs.LogGroup(self, "AccessLogs", retention=retention,
                                              removal_policy=cdk.RemovalPolicy.DESTROY)
        self.rest_api.add_property_override("AccessLogSetting", {
            "DestinationArn": self.access_log_group.log_group_arn,
            "Format": _ACCESS_LOG_FORMAT,
        })
        self.rest_api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "LoggingLevel": "ERROR",
            "MetricsEnabled": True,
            "DataTraceEnabled": False,  # request bodies carry phone numbers and transcripts
            "ThrottlingRateLimit": THROTTLE_RATE,
            "ThrottlingBurstLimit": THROTTLE_BURST,
        }])
        # API Gateway writes logs with the account-level role; set it so the stage can deploy.
        cloudwatch_role = iam.Role(
            self, "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs")],
        )
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=cloudwatch_role.role_arn)
        # Account settings outlive the stack: another API in the account may rely on the role.
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        cloudwatch_role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.rest_api.add_resource_dependency(account)
        acknowledge(cloudwatch_role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                                     "AmazonAPIGatewayPushToCloudWatchLogs]",
                    "AWS's own policy for API Gateway's account-level logging role; it allows log writes only.")

    def _acknowledge(self) -> None:
        for rule, reason in (
            ("AwsSolutions-APIG2", "Chalice validates nothing at the gateway; every route validates its body "
                                   "with the pydantic contract models and answers 4xx with code and param."),
            ("AwsSolutions-APIG3", "No WAF by default (cost): /v1 requires an API key checked in the function, "
                                   "carrier webhooks require a valid Twilio signature; stage throttling is on."),
            ("AwsSolutions-APIG4", "Authorization is in the app: workspace API keys (Bearer) on /v1 and "
                                   "Twilio request signatures on the carrier webhooks, which cannot send IAM or "
                                   "Cognito auth."),
            ("AwsSolutions-COG4", "No Cognito: callers are servers holding workspace API keys, and Twilio."),
        ):
            acknowledge(self.rest_api, rule, reason)
