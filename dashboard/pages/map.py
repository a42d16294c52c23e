"""Map: sightings in a date range (filter by plate or trip, colour by confidence), trip routes."""

from __future__ import annotations

import streamlit as st

from dashboard import config, queries
from dashboard.pages._ui import (
    MAX_TEXT,
    date_range,
    db,
    map_points,
    param_text,
    show_map,
    watch_entries,
)

st.title("Map")

with db() as s:
    entries = watch_entries(s)
    d_from, d_to = date_range("map", clock="UTC date of each sighting")
    c1, c2 = st.columns(2)
    text = c1.text_input("Plate", value=param_text("text"), key="map_text",
                     max_chars=MAX_TEXT).strip()
    trip_ids = [t["trip_id"] for t in queries.trips(s)]
    trip = c2.selectbox("Trip", [None, *trip_ids], format_func=lambda t: "all trips" if t is None else t,
                        key="map_trip")
    show_routes = st.toggle("Trip routes", value=True, key="map_routes")
    rows = queries.map_sightings(s, d_from, d_to, text=text or None, trip_id=trip)
    routes = []
    if show_routes:
        route_trips = [trip] if trip else queries.trips_in_range(s, d_from, d_to, limit=10)
        for t in route_trips:
            pts = queries.trip_route(s, t, max_points=500)
            if pts:
                routes.append([[p["lon"], p["lat"]] for p in pts])
    st.caption(
        f"{len(rows)} located sighting(s)"
        + (f" (the newest {config.MAX_MAP_POINTS:,}; narrow the dates for more)" if len(rows) >= config.MAX_MAP_POINTS else "")
        + f" · {len(routes)} route(s) · colour: red = low confidence, green = high, magenta = watchlist"
    )
    if not rows and not routes:
        st.info("No located sightings for these filters.")
    else:
        show_map(map_points(rows, entries), routes, height=520, key="map_map")
    if trip:
        gpx = queries.trip_gpx(s, trip)
        if gpx:
            st.download_button("Download trip route (GPX)", gpx, file_name=f"{trip}.gpx",
                               mime="application/gpx+xml", key="map_gpx")
