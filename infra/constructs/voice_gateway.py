"""The voice gateway on ECS Fargate behind an Application Load Balancer.

The image is built from ``streaming_fargate/Dockerfile`` at deploy time (``cdk deploy`` builds and
pushes it); synthesis only stages the build context, so it needs no Docker. Hour-long websockets
shape the rest: the load balancer's idle timeout is its maximum, a stopping task gets the longest
stop timeout Fargate allows to drain its calls, targets stay registered as long, and autoscaling
tracks live calls per task (the ``ActiveCalls`` metric the gateway publishes) besides CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ..environment import GATEWAY_PORT, STREAM_PATH
from ..metrics import ACTIVE_CALLS, GATEWAY_SERVICE, NAMESPACE
from ..nag import acknowledge

__all__ = ["VoiceGateway", "GatewaySizing", "IDLE_TIMEOUT", "STOP_TIMEOUT", "HEALTH_CHECK_PATH",
           "BUILD_CONTEXT_EXCLUDES"]

IDLE_TIMEOUT = cdk.Duration.seconds(4000)  # the ALB's maximum: a call may be silent on the wire for long
STOP_TIMEOUT = cdk.Duration.seconds(120)  # Fargate's maximum, above the gateway's 110 s drain
HEALTH_CHECK_PATH = "/healthz"  # 200 when serving, 503 while draining
# The image needs only these (the Dockerfile's COPY lines); everything else stays out of the build
# context, which keeps synthesis fast and the asset hash stable. The image is the one
# `docker build -f streaming_fargate/Dockerfile .` makes.
BUILD_CONTEXT_EXCLUDES = ("*", "!pyproject.toml", "!README.md", "!callingbox", "!streaming_fargate",
                          "**/__pycache__", "**/*.pyc")


@dataclass(frozen=True)
class GatewaySizing:
    """Task size and autoscaling bounds."""

    min_tasks: int
    max_tasks: int
    calls_per_task: int
    cpu: int = 1024
    memory_mib: int = 2048


class VoiceGateway(Construct):
    """VPC, cluster, task, service, load balancer and scaling.

    Attributes: ``vpc``, ``cluster``, ``task_definition``, ``container``, ``service``,
    ``load_balancer``, ``listener``, ``target_group``, ``url`` (the websocket URL of streams),
    ``active_calls`` (the metric the scaling tracks).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        build_context: Path,
        environment: Mapping[str, str],
        secrets: Mapping[str, ecs.Secret],
        sizing: GatewaySizing,
        certificate_arn: Optional[str],
        domain_name: Optional[str],
        access_logs_bucket: s3.IBucket,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = self._vpc(log_retention)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc,
                                   container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.task_definition = ecs.FargateTaskDefinition(
            self, "Task", cpu=sizing.cpu, memory_limit_mib=sizing.memory_mib,
            runtime_platform=ecs.RuntimePlatform(operating_system_family=ecs.OperatingSystemFamily.LINUX,
                                                 cpu_architecture=ecs.CpuArchitecture.X86_64),
        )
        image = ecs.ContainerImage.from_asset(
            str(build_context),
            file="streaming_fargate/Dockerfile",
            exclude=list(BUILD_CONTEXT_EXCLUDES),
            ignore_mode=cdk.IgnoreMode.DOCKER,
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        self.container = self.task_definition.add_container(
            "gateway",
            image=image,
            environment=dict(environment),
            secrets=dict(secrets),
            logging=ecs.LogDriver.aws_logs(stream_prefix="gateway", log_group=log_group),
            port_mappings=[ecs.PortMapping(container_port=GATEWAY_PORT)],
            stop_timeout=STOP_TIMEOUT,
            essential=True,
        )
        self.service = ecs.FargateService(
            self, "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=sizing.min_tasks,
            min_healthy_percent=100,  # a deployment starts new tasks before it drains old ones
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            health_check_grace_period=cdk.Duration.seconds(60),
        )
        self._load_balancer(certificate_arn, access_logs_bucket)
        scheme = "wss" if certificate_arn else "ws"
        host = domain_name or self.load_balancer.load_balancer_dns_name
        self.url = f"{scheme}://{host}{STREAM_PATH}"
        self._scaling(sizing)
        self._acknowledge()

    def _vpc(self, log_retention: logs.RetentionDays) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self, "Vpc",
            max_azs=2,
            nat_gateways=1,  # egress to Twilio, Bedrock and the customer's tool URLs; one keeps cost down
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="tasks", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
            ],
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                         traffic_type=ec2.FlowLogTrafficType.REJECT)
        return vpc

    def _load_balancer(self, certificate_arn: Optional[str], access_logs_bucket: s3.IBucket) -> None:
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self, "LoadBalancer",
            vpc=self.vpc,
            internet_facing=True,
            idle_timeout=IDLE_TIMEOUT,
            drop_invalid_header_fields=True,
        )
        self.load_balancer.log_access_logs(access_logs_bucket, prefix="alb")
        if certificate_arn:
            self.listener = self.load_balancer.add_listener(
                "Https", port=443, protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            )
            self.load_balancer.add_redirect(source_port=80, target_port=443)
        else:
            # No certificate: plain ws:// on port 80. Twilio Media Streams require wss://, so real
            # calls need domain_name + certificate_arn (docs/deploy.md); this serves trials only.
            self.listener = self.load_balancer.add_listener("Http", port=80, protocol=elbv2.ApplicationProtocol.HTTP)
        self.target_group = self.listener.add_targets(
            "Gateway",
            port=GATEWAY_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            health_check=elbv2.HealthCheck(
                path=HEALTH_CHECK_PATH, healthy_http_codes="200",
                interval=cdk.Duration.seconds(10), timeout=cdk.Duration.seconds(5),
                healthy_threshold_count=2, unhealthy_threshold_count=2,
            ),
            # Connections to a deregistering (draining) task may go on this long; matches the stop timeout.
            deregistration_delay=STOP_TIMEOUT,
        )

    def _scaling(self, sizing: GatewaySizing) -> None:
        self.active_calls = cloudwatch.Metric(
            namespace=NAMESPACE, metric_name=ACTIVE_CALLS, dimensions_map={"service": GATEWAY_SERVICE},
            statistic="Average", period=cdk.Duration.minutes(1),
            label="Live calls per gateway task",
        )
        scaling = self.service.auto_scale_task_count(min_capacity=sizing.min_tasks, max_capacity=sizing.max_tasks)
        # Scale-in stops a task, and its calls get only the 110 s drain: scale in slowly. (A task with
        # live calls can also protect itself: ecs:UpdateTaskProtection is granted to the task role.)
        scaling.scale_to_track_custom_metric(
            "ActiveCallsPerTask", metric=self.active_calls, target_value=sizing.calls_per_task,
            scale_out_cooldown=cdk.Duration.seconds(60), scale_in_cooldown=cdk.Duration.minutes(15),
        )
        scaling.scale_on_cpu_utilization(
            "Cpu", target_utilization_percent=60,
            scale_out_cooldown=cdk.Duration.seconds(60), scale_in_cooldown=cdk.Duration.minutes(15),
        )

    def _acknowledge(self) -> None:
        acknowledge(self.load_balancer, "AwsSolutions-EC23",
                    "The gateway's load balancer is public by design: Twilio connects from addresses that "
                    "are not a fixed, published set; every stream must carry a signed stream token.")
        acknowledge(self.task_definition.obtain_execution_role(), "AwsSolutions-IAM5[Resource::*]",
                    "ecr:GetAuthorizationToken has no resource-level permissions; the image pull itself is "
                    "granted on this app's image repository only.")
        acknowledge(self.task_definition, "AwsSolutions-ECS2",
                    "The plain environment holds resource names and limits only; the keys arrive as ECS "
                    "secrets from Secrets Manager.")
