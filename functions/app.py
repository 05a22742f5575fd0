"""The CallingBox HTTP API: one Chalice app for every /v1 route and the carrier webhooks (/twilio/...)."""

from chalice import Chalice

from chalicelib import agents, calls, events, meta, numbers, transcripts, twilio_webhooks, webhooks

app = Chalice(app_name="callingbox")
app.api.binary_types = []
for blueprint in (agents.bp, numbers.bp, calls.bp, transcripts.bp, webhooks.bp, events.bp, meta.bp,
                  twilio_webhooks.bp):
    app.register_blueprint(blueprint)
