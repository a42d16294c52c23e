"""Dashboard constants; the user's settings come from `dashcam.settings.Settings`."""

from __future__ import annotations

from dashcam.settings import Settings

_settings = Settings()
# Raster tile URL template for the maps, e.g. http://tiles.lan/{z}/{x}/{y}.png. Unset: no base
# map at all (map_style=None), so maps work offline and nothing is fetched from the internet.
MAP_TILE_URL: str | None = _settings.map_tile_url
# Where the browser can fetch archive media directly (a web server over the archive volume).
# Unset: the dashboard reads files from the archive volume itself.
MEDIA_BASE_URL: str | None = _settings.media_base_url

# Row limits: the pages never load a whole table (fast on a large archive).
MAX_MAP_POINTS = 20_000
MAX_ROUTE_POINTS = 2_000
MAX_TIMELINE_ROWS = 5_000
MAX_SEARCH_RESULTS = 500
PAGE_SIZE = 100
