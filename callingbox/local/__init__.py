"""The local stack: everything `make dev` and the integration tests run on one machine."""
