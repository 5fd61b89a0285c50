"""``python -m takedown``."""

from takedown.cli.main import app

app()
