"""Dashboard constants; the user's settings come from `dashcam.settings.Settings`."""

from __future__ import annotations

from dashcam.settings import Settings

_settings = Settings()
# Raster tile URL template for the maps (OpenStreetMap's by default; http://tiles.lan/{z}/{x}/{y}.png
# for your own). None ("none" in the setting): no basemap, nothing fetched from the internet.
MAP_TILE_URL: str | None = (
    None if _settings.map_tile_url.strip().lower() in ("", "none") else _settings.map_tile_url
)
MAP_ATTRIBUTION: str = _settings.map_attribution
# Where the browser can fetch archive media directly (a web server over the archive volume).
# Unset: the dashboard reads files from the archive volume itself.
MEDIA_BASE_URL: str | None = _settings.media_base_url

# Row limits: the pages never load a whole table (fast on a large archive).
MAX_MAP_POINTS = 20_000
MAX_ROUTE_POINTS = 2_000
MAX_TIMELINE_ROWS = 5_000
MAX_SEARCH_RESULTS = 500
PAGE_SIZE = 100
