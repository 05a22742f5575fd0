"""Small readers of a synthesized CloudFormation template, shared by the infra tests."""

from __future__ import annotations

from typing import Any, Iterator


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    """The resources of one CloudFormation type, by logical id."""
    return {name: resource for name, resource in resources.items() if resource["Type"] == kind}


def logical_id_by_property(resources: dict[str, Any], kind: str, prop: str, value: Any) -> str:
    """The one resource of ``kind`` whose property ``prop`` equals ``value``."""
    found = [name for name, resource in of_type(resources, kind).items()
             if resource["Properties"].get(prop) == value]
    assert len(found) == 1, f"expected one {kind} with {prop}={value!r}, found {found}"
    return found[0]


def refers_to(value: Any) -> set[str]:
    """Logical ids a property value refers to through Ref or Fn::GetAtt (at any depth)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= refers_to(item)
    elif isinstance(value, list):
        for item in value:
            found |= refers_to(item)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement (identity policies and roles' inline policies), with the holder's logical id."""
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in properties["PolicyDocument"]["Statement"]:
                yield name, statement
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement


def role_statements(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """The statements of the policies attached to one role."""
    statements = []
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and role_id in refers_to(resource["Properties"].get("Roles", [])):
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements
