"""The CallingBox HTTP API: one Chalice app for every /v1 route (and, later, the carrier webhooks)."""

from chalice import Chalice

from chalicelib import agents, calls, meta, numbers, transcripts

app = Chalice(app_name="callingbox")
app.api.binary_types = []
for blueprint in (agents.bp, numbers.bp, calls.bp, transcripts.bp, meta.bp):
    app.register_blueprint(blueprint)
