"""`python -m dashcam.cli`: the same app as the `dashcam` console script."""

from dashcam.cli.main import app

app()
