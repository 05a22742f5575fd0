"""The API's route modules (Chalice packages ``chalicelib/`` beside ``app.py``)."""
