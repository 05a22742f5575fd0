"""The server-side core shared by the Lambda functions, the voice gateway and the local stack.

Nothing here is imported by the SDK (``callingbox`` / ``callingbox.types`` / ``callingbox.resources``).
"""
