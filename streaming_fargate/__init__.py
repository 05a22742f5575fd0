"""The voice gateway (Fargate): Twilio Media Streams in, the real-time STT -> LLM -> TTS loop, audio out.

It imports only ``callingbox.core``, never the Lambda side. See README.md beside this file.
"""
