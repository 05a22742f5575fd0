"""The synthesized template: data at rest, queues, workers, IAM, the voice gateway, outputs.

GIVEN the app synthesized as ``cdk.json`` configures it (see conftest), THEN each test reads one
concern from the template, through ``aws_cdk.assertions`` where a pattern says it best.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="the infra extra is not installed")

from aws_cdk.assertions import Match  # noqa: E402

from callingbox.core import resources as names  # noqa: E402
from infra.calling_box import ACCESS  # noqa: E402
from infra.constructs.workers import WORKERS  # noqa: E402
from tests.infra.template_queries import (  # noqa: E402
    as_list,
    logical_id_by_property,
    of_type,
    policy_statements,
    refers_to,
    role_statements,
)

RETAINED = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


# -- storage --------------------------------------------------------------------------------------

def test_table_is_the_shared_definition_on_demand_encrypted_recoverable_and_retained(template: Any,
                                                                                      resources: dict) -> None:
    definition = names.table_definition()
    template.has_resource("AWS::DynamoDB::Table", {**RETAINED, "Properties": Match.object_like({
        "TableName": names.TABLE_NAME,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": definition["KeySchema"],
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": names.TTL_ATTRIBUTE, "Enabled": True},
        "DeletionProtectionEnabled": True,
    })})
    (table,) = of_type(resources, "AWS::DynamoDB::Table").values()
    deployed = {index["IndexName"]: (index["KeySchema"], index["Projection"])
                for index in table["Properties"]["GlobalSecondaryIndexes"]}
    expected = {index["IndexName"]: (index["KeySchema"], index["Projection"])
                for index in definition["GlobalSecondaryIndexes"]}
    assert deployed == expected
    assert sorted(table["Properties"]["AttributeDefinitions"], key=str) == \
        sorted(definition["AttributeDefinitions"], key=str)


def test_recordings_bucket_is_kms_encrypted_private_expiring_and_retained(template: Any) -> None:
    template.has_resource("AWS::S3::Bucket", {**RETAINED, "Properties": Match.object_like({
        "BucketName": Match.object_like({"Fn::Join": ["", Match.array_with([f"{names.RECORDINGS_BUCKET}-"])]}),
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()},
            "BucketKeyEnabled": True}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like(
            {"ExpirationInDays": 90, "Status": "Enabled"})])},
        "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
    })})


def test_every_bucket_refuses_plain_http(resources: dict) -> None:
    buckets = set(of_type(resources, "AWS::S3::Bucket"))
    denied = set()
    for policy in of_type(resources, "AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            insecure = statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            if statement["Effect"] == "Deny" and insecure:
                denied |= refers_to(policy["Properties"]["Bucket"])
    assert buckets and buckets == denied


def test_key_rotates_and_is_retained(template: Any) -> None:
    template.has_resource("AWS::KMS::Key", {**RETAINED, "Properties": Match.object_like({"EnableKeyRotation": True})})


def test_secrets_hold_no_value_in_the_template_and_are_retained(resources: dict) -> None:
    secrets = of_type(resources, "AWS::SecretsManager::Secret")
    assert len(secrets) == 3
    for secret in secrets.values():
        assert secret["DeletionPolicy"] == "Retain"
        assert "SecretString" not in secret["Properties"]
        assert "GenerateSecretString" in secret["Properties"] and "KmsKeyId" in secret["Properties"]


# -- messaging ------------------------------------------------------------------------------------

@pytest.mark.parametrize("queue", sorted(names.QUEUES))
def test_each_queue_has_its_dead_letter_queue_and_an_alarm_on_it(queue: str, resources: dict) -> None:
    spec = names.QUEUES[queue]
    queue_id = logical_id_by_property(resources, "AWS::SQS::Queue", "QueueName", spec.name)
    dlq_id = logical_id_by_property(resources, "AWS::SQS::Queue", "QueueName", spec.dlq_name)
    properties = resources[queue_id]["Properties"]
    assert properties["VisibilityTimeout"] == spec.visibility_timeout_s
    assert properties["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                           "maxReceiveCount": spec.max_receive_count}
    for queue_properties in (properties, resources[dlq_id]["Properties"]):
        assert "KmsMasterKeyId" in queue_properties
    alarms = [alarm for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
              if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and dlq_id in refers_to(alarm["Properties"].get("Dimensions"))]
    assert len(alarms) == 1 and alarms[0]["Properties"]["AlarmActions"]


def test_event_bus_has_an_archive_for_replay(template: Any, resources: dict) -> None:
    bus_id = logical_id_by_property(resources, "AWS::Events::EventBus", "Name", names.EVENT_BUS_NAME)
    template.has_resource_properties("AWS::Events::Archive", {
        "SourceArn": {"Fn::GetAtt": [bus_id, "Arn"]}, "RetentionDays": 90})


# -- workers --------------------------------------------------------------------------------------

def _function_id(resources: dict, handler: str) -> str:
    return logical_id_by_property(resources, "AWS::Lambda::Function", "Handler", handler)


def test_sqs_workers_report_batch_item_failures_from_their_own_queue(resources: dict) -> None:
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping")
    fed = [spec for spec in WORKERS if spec.queue is not None]
    assert len(mappings) == len(fed) == 3
    for spec in fed:
        function_id = _function_id(resources, spec.handler)
        queue_id = logical_id_by_property(resources, "AWS::SQS::Queue", "QueueName", names.QUEUES[spec.queue].name)
        (mapping,) = [m for m in mappings.values() if function_id in refers_to(m["Properties"]["FunctionName"])]
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert refers_to(mapping["Properties"]["EventSourceArn"]) == {queue_id}
        assert resources[function_id]["Properties"]["Timeout"] <= names.QUEUES[spec.queue].visibility_timeout_s


def test_dialers_run_a_few_at_once_and_sweeper_on_a_schedule(resources: dict) -> None:
    from callingbox.core.resources import DIAL_BATCH_SIZE, DIAL_CONCURRENCY

    dialer_id = _function_id(resources, "workers.dialer.handler")
    assert "ReservedConcurrentExecutions" not in resources[dialer_id]["Properties"]
    (mapping,) = [m["Properties"] for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
                  if dialer_id in refers_to(m["Properties"]["FunctionName"])]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": DIAL_CONCURRENCY}
    assert mapping["BatchSize"] == DIAL_BATCH_SIZE
    sweeper_id = _function_id(resources, "workers.sweeper.handler")
    rules = [rule for rule in of_type(resources, "AWS::Events::Rule").values()
             if any(sweeper_id in refers_to(target) for target in rule["Properties"].get("Targets", []))]
    assert len(rules) == 1 and rules[0]["Properties"]["ScheduleExpression"] == "rate(1 minute)"


def test_lambda_functions_run_the_bundles_python_with_their_own_log_groups(resources: dict) -> None:
    from infra.bundles import LAMBDA_PYTHON

    functions = {**of_type(resources, "AWS::Lambda::Function"), "APIHandler": resources["APIHandler"]}
    assert len(functions) == 5
    for function in functions.values():
        assert function["Properties"]["Runtime"] == f"python{LAMBDA_PYTHON}"
        assert "LogGroup" in function["Properties"]["LoggingConfig"]


# -- IAM ------------------------------------------------------------------------------------------

DATA_SERVICES = ("dynamodb", "sqs", "s3", "events", "secretsmanager", "kms", "bedrock")
# Actions that have no resource-level permissions, so their statements name "*".
RESOURCELESS_ACTIONS = {"transcribe:StartStreamTranscription", "transcribe:StartStreamTranscriptionWebSocket",
                        "polly:SynthesizeSpeech", "ecr:GetAuthorizationToken"}


def test_no_wildcard_actions_and_no_star_resources_on_data(resources: dict) -> None:
    statements = list(policy_statements(resources))
    assert len(statements) > 20
    for holder, statement in statements:
        actions = as_list(statement["Action"])
        for action in actions:
            assert action != "*" and not action.endswith(":*"), (holder, action)
            if action.split(":")[0] in DATA_SERVICES:
                assert "*" not in action, (holder, action)
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= RESOURCELESS_ACTIONS, (holder, actions)


def _role_of_function(resources: dict, function_id: str) -> str:
    (role_id,) = refers_to(resources[function_id]["Properties"]["Role"])
    return role_id


def _queues_touched(resources: dict, role_id: str) -> dict[str, set[str]]:
    """Queue names by the kind of access (``send``/``consume``) one role's statements give."""
    queue_names = {name: resource["Properties"]["QueueName"]
                   for name, resource in of_type(resources, "AWS::SQS::Queue").items()}
    touched: dict[str, set[str]] = {"send": set(), "consume": set()}
    for statement in role_statements(resources, role_id):
        actions = set(as_list(statement["Action"]))
        targets = {queue_names[ref] for ref in refers_to(statement["Resource"]) if ref in queue_names}
        if "sqs:SendMessage" in actions:
            touched["send"] |= targets
        if "sqs:ReceiveMessage" in actions:
            touched["consume"] |= targets
    return touched


@pytest.mark.parametrize("spec", WORKERS, ids=lambda spec: spec.name)
def test_each_worker_touches_only_its_queues(spec: Any, resources: dict) -> None:
    role_id = _role_of_function(resources, _function_id(resources, spec.handler))
    touched = _queues_touched(resources, role_id)
    assert touched["send"] == {names.QUEUES[name].name for name in ACCESS[spec.name].sends}
    assert touched["consume"] == ({names.QUEUES[spec.queue].name} if spec.queue else set())


def test_api_and_gateway_send_only_to_their_queues(resources: dict) -> None:
    api_role = next(iter(refers_to(resources["APIHandler"]["Properties"]["Role"])))
    task_definition = next(iter(of_type(resources, "AWS::ECS::TaskDefinition").values()))
    (gateway_role,) = refers_to(task_definition["Properties"]["TaskRoleArn"])
    for component, role_id in (("api", api_role), ("gateway", gateway_role)):
        touched = _queues_touched(resources, role_id)
        assert touched == {"send": {names.QUEUES[name].name for name in ACCESS[component].sends}, "consume": set()}


def _secret_id(resources: dict, description_part: str) -> str:
    (found,) = [secret_id for secret_id, secret in of_type(resources, "AWS::SecretsManager::Secret").items()
                if description_part in secret["Properties"]["Description"]]
    return found


def _secrets_read(resources: dict, role_id: str) -> set[str]:
    return {ref for statement in role_statements(resources, role_id)
            if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
            for ref in refers_to(statement["Resource"])}


def test_only_the_functions_that_sign_stream_tokens_are_given_the_key(resources: dict) -> None:
    from infra.environment import SIGNING_SECRET_ARN

    stream_key = _secret_id(resources, "stream tokens")
    # The voice webhook (API) and the dialer sign stream tokens (callingbox.core.signing_keys)
    signers = {"api", "dialer"}
    functions = {"api": "APIHandler", **{spec.name: _function_id(resources, spec.handler) for spec in WORKERS}}
    for name, function_id in functions.items():
        variables = resources[function_id]["Properties"]["Environment"]["Variables"]
        role_id = _role_of_function(resources, function_id)
        if name in signers:
            assert refers_to(variables[SIGNING_SECRET_ARN]) == {stream_key}, name
            assert stream_key in _secrets_read(resources, role_id), name
        else:
            assert SIGNING_SECRET_ARN not in variables, name
            assert stream_key not in _secrets_read(resources, role_id), name


def test_the_sweeper_may_only_write_the_table_announce_and_queue_fan_outs(resources: dict) -> None:
    # It ends calls in the table and announces call.failed (event stored, put on the bus, fan-out
    # queued): no carrier credentials, no extraction, no key.
    role_id = _role_of_function(resources, _function_id(resources, "workers.sweeper.handler"))
    assert _secrets_read(resources, role_id) == set()
    assert _queues_touched(resources, role_id) == {"send": {names.QUEUES["webhooks"].name}, "consume": set()}
    actions = {action for statement in role_statements(resources, role_id) for action in as_list(statement["Action"])}
    assert "events:PutEvents" in actions
    assert {action.split(":")[0] for action in actions} <= {"dynamodb", "kms", "sqs", "events", "logs"}


def test_every_function_reaches_the_table_and_its_indexes_by_name(resources: dict) -> None:
    (table_id,) = of_type(resources, "AWS::DynamoDB::Table")
    index_names = {index["IndexName"] for index in names.table_definition()["GlobalSecondaryIndexes"]}
    roles = [_role_of_function(resources, function_id) for function_id in of_type(resources, "AWS::Lambda::Function")]
    for role_id in roles:
        (statement,) = [s for s in role_statements(resources, role_id) if "dynamodb:PutItem" in as_list(s["Action"])]
        texts = [str(resource) for resource in statement["Resource"]]
        assert {index for index in index_names if any(f"/index/{index}" in text for text in texts)} == index_names
        assert all(table_id in refers_to(resource) for resource in statement["Resource"])


def test_gateway_may_stream_transcribe_synthesize_and_invoke_only_the_configured_model(resources: dict) -> None:
    task_definition = next(iter(of_type(resources, "AWS::ECS::TaskDefinition").values()))
    (role_id,) = refers_to(task_definition["Properties"]["TaskRoleArn"])
    actions = {action: statement for statement in role_statements(resources, role_id)
               for action in as_list(statement["Action"])}
    assert {"transcribe:StartStreamTranscription", "transcribe:StartStreamTranscriptionWebSocket",
            "polly:SynthesizeSpeech"} <= set(actions)
    bedrock = actions["bedrock:InvokeModelWithResponseStream"]
    assert set(as_list(bedrock["Action"])) == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
    assert bedrock["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                     ":bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"]]}


def test_inference_profile_models_allow_the_profile_and_its_model_only(domain_synthesis: Any) -> None:
    from tests.infra.variants import PROFILE_MODEL

    resources = domain_synthesis.template["Resources"]
    resources_text = [str(statement["Resource"]) for _, statement in policy_statements(resources)
                      if "bedrock:InvokeModel" in as_list(statement["Action"])]
    assert resources_text
    for text in resources_text:
        assert f"inference-profile/{PROFILE_MODEL}" in text
        assert f":bedrock:*::foundation-model/{PROFILE_MODEL.split('.', 1)[1]}" in text
        assert "foundation-model/amazon.nova-lite-v1:0" in text


# -- voice gateway --------------------------------------------------------------------------------

def test_gateway_task_drains_for_the_longest_stop_timeout_with_secrets_from_secrets_manager(template: Any) -> None:
    template.has_resource_properties("AWS::ECS::TaskDefinition", {
        "RequiresCompatibilities": ["FARGATE"],
        "ContainerDefinitions": [Match.object_like({
            "StopTimeout": 120,
            "PortMappings": [Match.object_like({"ContainerPort": 8080})],
            "Secrets": Match.array_with([
                Match.object_like({"Name": "CALLINGBOX_STREAM_TOKEN_SECRET"}),
                Match.object_like({"Name": "CALLINGBOX_TOOL_SIGNING_SECRET"})]),
            "Environment": Match.array_with([  # in the order they are set
                {"Name": "CALLINGBOX_CARRIER", "Value": "twilio"},
                {"Name": "CALLINGBOX_GATEWAY_DRAIN_SECONDS", "Value": "110"}]),
        })],
    })


def test_load_balancer_keeps_hour_long_websockets_and_checks_healthz(template: Any) -> None:
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
        "Scheme": "internet-facing",
        "LoadBalancerAttributes": Match.array_with([
            {"Key": "idle_timeout.timeout_seconds", "Value": "4000"},
            {"Key": "access_logs.s3.enabled", "Value": "true"}]),
    })
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {
        "HealthCheckPath": "/healthz", "Port": 8080, "TargetType": "ip",
        "TargetGroupAttributes": Match.array_with([{"Key": "deregistration_delay.timeout_seconds", "Value": "120"}]),
    })
    # No certificate in cdk.json: plain HTTP, documented as trials only.
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 80, "Protocol": "HTTP"})


def test_gateway_scales_on_live_calls_per_task(template: Any) -> None:
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "TargetValue": 20,
            "CustomizedMetricSpecification": Match.object_like({
                "Namespace": "CallingBox", "MetricName": "ActiveCalls", "Statistic": "Average",
                "Dimensions": [{"Name": "service", "Value": "callingbox-gateway"}]}),
        }),
    })
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget",
                                     {"MinCapacity": 1, "MaxCapacity": 10})


def test_with_a_certificate_the_gateway_serves_tls_and_redirects_http(domain_synthesis: Any) -> None:
    from aws_cdk.assertions import Template

    from tests.infra.variants import CERTIFICATE_ARN, DOMAIN

    template = Template.from_json(domain_synthesis.template)
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {
        "Port": 443, "Protocol": "HTTPS", "Certificates": [{"CertificateArn": CERTIFICATE_ARN}],
        "SslPolicy": Match.string_like_regexp("TLS13")})
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {
        "Port": 80, "DefaultActions": [Match.object_like({"Type": "redirect"})]})
    template.has_resource_properties("AWS::ApiGateway::DomainName", {
        "DomainName": f"api.{DOMAIN}", "RegionalCertificateArn": CERTIFICATE_ARN, "SecurityPolicy": "TLS_1_2"})
    outputs = domain_synthesis.template["Outputs"]
    assert outputs["ApiUrl"]["Value"] == f"https://api.{DOMAIN}"
    assert outputs["VoiceWebhookUrl"]["Value"] == f"https://api.{DOMAIN}/twilio/voice"
    assert outputs["GatewayUrl"]["Value"] == f"wss://voice.{DOMAIN}/stream"
    assert outputs["ApiDomainTarget"]["Value"] == {"Fn::GetAtt": ["ApiGatewayCustomDomain", "RegionalDomainName"]}
    api_env = domain_synthesis.template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_env["CALLINGBOX_PUBLIC_API_URL"] == f"https://api.{DOMAIN}"
    assert api_env["CALLINGBOX_GATEWAY_URL"] == f"wss://voice.{DOMAIN}/stream"


# -- API, settings, outputs -----------------------------------------------------------------------

def test_api_stage_logs_and_throttles(resources: dict) -> None:
    api = resources["RestAPI"]["Properties"]
    assert api["EndpointConfiguration"] == "REGIONAL" and api["StageName"] == "api"
    assert "DestinationArn" in api["AccessLogSetting"]
    (settings,) = api["MethodSettings"]
    assert settings["LoggingLevel"] == "ERROR" and settings["DataTraceEnabled"] is False
    assert settings["ThrottlingRateLimit"] > 0
    assert any(resource["Type"] == "AWS::ApiGateway::Account" for resource in resources.values())


def _settings_variables() -> set[str]:
    """Every variable the settings factories read (literal names, and the queue URLs they compute)."""
    from pathlib import Path

    from infra.environment import LAMBDA_ONLY, queue_url_variable

    root = Path(__file__).resolve().parents[2]
    sources = [(root / "callingbox/core/settings.py").read_text(), (root / "streaming_fargate/settings.py").read_text()]
    found = {name for source in sources for name in re.findall(r'"(CALLINGBOX_[A-Z_]+)"', source)}
    return found | {queue_url_variable(name) for name in names.QUEUES} | set(LAMBDA_ONLY)


def test_every_variable_set_is_one_the_code_reads_and_the_essentials_are_set(resources: dict) -> None:
    known = _settings_variables()
    environments = {name: fn["Properties"]["Environment"]["Variables"]
                    for name, fn in {**of_type(resources, "AWS::Lambda::Function"),
                                     "APIHandler": resources["APIHandler"]}.items()}
    task_definition = next(iter(of_type(resources, "AWS::ECS::TaskDefinition").values()))
    container = task_definition["Properties"]["ContainerDefinitions"][0]
    environments["gateway"] = {item["Name"]: item["Value"] for item in container["Environment"]}
    essentials = {"CALLINGBOX_TABLE", "CALLINGBOX_EVENT_BUS", "CALLINGBOX_RECORDINGS_BUCKET", "CALLINGBOX_CARRIER",
                  "CALLINGBOX_TWILIO_SECRET_ARN", "CALLINGBOX_GATEWAY_URL", "CALLINGBOX_DIAL_CPS",
                  "CALLINGBOX_MAX_CONCURRENT_CALLS", "CALLINGBOX_DEFAULT_LLM_MODEL",
                  *(f"CALLINGBOX_{queue.upper()}_QUEUE_URL" for queue in names.QUEUES)}
    for component, variables in environments.items():
        assert set(variables) <= known, (component, set(variables) - known)
        assert essentials <= set(variables), (component, essentials - set(variables))
        assert variables["CALLINGBOX_CARRIER"] == "twilio"
        assert variables["CALLINGBOX_DEFAULT_LLM_MODEL"] == "bedrock:amazon.nova-lite-v1:0"
        assert not any("TWILIO_AUTH_TOKEN" in name or name == "CALLINGBOX_STREAM_TOKEN_SECRET" for name in variables)
    # Without a custom domain the API cannot name its own URL (the RestApi refers to the function):
    # it takes it from the request; everyone else gets the stage URL.
    assert "CALLINGBOX_PUBLIC_API_URL" not in environments.pop("APIHandler")
    for component, variables in environments.items():
        assert "RestAPI" in refers_to(variables["CALLINGBOX_PUBLIC_API_URL"]), component


def test_outputs_name_the_api_the_voice_webhook_and_the_bus(synthesis: Any) -> None:
    outputs = synthesis.template["Outputs"]
    api_url = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert api_url[0] == "https://" and api_url[1] == {"Ref": "RestAPI"} and api_url[-1] == "/api"
    assert outputs["VoiceWebhookUrl"]["Value"]["Fn::Join"][1][-1] == "/api/twilio/voice"
    bus_id = logical_id_by_property(synthesis.template["Resources"], "AWS::Events::EventBus", "Name",
                                    names.EVENT_BUS_NAME)
    assert outputs["EventBusName"]["Value"] == {"Ref": bus_id}
    assert {"TwilioSecretArn", "TableName", "GatewayUrl", "AlarmTopicArn"} <= set(outputs)


def test_dashboard_shows_the_figures_the_operator_needs(resources: dict) -> None:
    (dashboard,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for title in ("Calls by status", "Turn latency", "Live calls", "Gateway CPU", "Extraction failures",
                  "Webhook backlog"):
        assert title in body
    assert "ActiveCalls" in body and "first_audio_ms" in body
