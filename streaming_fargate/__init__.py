"""The voice gateway (Fargate): Twilio Media Streams in, the real-time STT -> LLM -> TTS loop, audio out.

Not built yet (issue 3). It will import only ``callingbox.core`` and never the Lambda side.
"""
