"""The `dashcam` command line (Typer): the top layer, over `dashcam.ops`.

`[project.scripts] dashcam = "dashcam.cli:app"` and `python -m dashcam.cli` both run `app`.
"""

from dashcam.cli.main import app

__all__ = ["app"]
