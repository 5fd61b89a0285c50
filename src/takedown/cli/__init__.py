"""The ``takedown`` command line."""
