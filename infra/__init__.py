"""The CDK app that deploys CallingBox: ``cdk deploy`` (``cdk.json`` runs ``python3 -m infra.app``).

``infra.constructs`` holds one construct per concern, :mod:`infra.calling_box` composes them and
wires grants and settings, :mod:`infra.stack` puts them in a stack with the cdk-nag checks, and
:mod:`infra.app` reads the context (:mod:`infra.config`) and synthesizes.
"""
