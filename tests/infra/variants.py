"""The context of each synthesized variant of the app (see conftest)."""

REGION = "us-east-1"
DOMAIN = "calls.example.com"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f4b1a2c-1111-2222-3333-444455556666"
PROFILE_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"

DEFAULT_CONTEXT = {"region": REGION}
DOMAIN_CONTEXT = {
    "region": REGION, "domain_name": DOMAIN, "certificate_arn": CERTIFICATE_ARN,
    "bedrock_model_ids": f"{PROFILE_MODEL},amazon.nova-lite-v1:0", "alarm_email": "ops@example.com",
}
