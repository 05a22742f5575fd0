"""The ``callingbox`` command line; the entry point is :func:`callingbox.cli.main.main`."""

__all__: list[str] = []
