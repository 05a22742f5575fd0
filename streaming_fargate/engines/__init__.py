"""Engines behind ports: speech-to-text, language model, text-to-speech.

Each port is a small abstract class (``stt.py``, ``llm.py``, ``tts.py``); the real (AWS) and local
adapters live in their own modules beside it, and :mod:`.factory` picks them from a call's model
routing. Test doubles live in ``tests/``, never here.
"""
