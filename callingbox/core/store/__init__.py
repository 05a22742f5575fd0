"""Persistence: PynamoDB items on the single table, and the race-safe writes over them."""
