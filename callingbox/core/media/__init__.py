"""Telephone audio and the Twilio Media Streams wire protocol, shared by the voice gateway (server
side), the Media Streams client (carrier side) and the local carrier."""
