"""The CDK app that deploys CallingBox (not built yet: see infra/README.md)."""
