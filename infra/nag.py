"""cdk-nag: the AwsSolutions checks on the whole app, and acknowledging a finding with its reason.

cdk-nag 3 plugs into CDK's policy validation: an unacknowledged finding fails ``app.synth()`` (and
``cdk synth``) with a report in ``policy-validation-report.json``. Every acknowledgment in this
app goes through :func:`acknowledge`, whose ``reason`` is the justification; with
``write_suppressions_to_cloud_formation`` the acknowledged rules and reasons are also written into
each resource's ``Metadata.cdk_nag.rules_to_suppress`` in the template (the count and reasons the
``infra_synth`` benchmark prints come from there).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

__all__ = ["enable_checks", "acknowledge", "acknowledgments"]


def enable_checks(app: cdk.App) -> None:
    """Run the AwsSolutions rule pack on everything in ``app`` at synthesis."""
    checks = AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    cdk.Validations.of(app).add_plugins(checks)


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding (``AwsSolutions-IAM5[Resource::*]``, ``AwsSolutions-L1``…) on ``scope``
    and everything under it. ``reason`` says why the rule does not apply or what mitigates it."""
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def acknowledgments(template: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(logical id, rule, reason)`` for every acknowledged finding recorded in a synthesized template."""
    for logical_id, resource in template.get("Resources", {}).items():
        rules = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        for rule in rules:
            yield logical_id, rule.get("id", ""), rule.get("reason", "")
