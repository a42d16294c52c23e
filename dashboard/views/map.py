"""Map: sightings in a date range (filter by plate or trip, colour by confidence), trip routes."""

from __future__ import annotations

import streamlit as st

from dashboard import config, queries
from dashboard.views._ui import (
    ANY,
    MAX_TEXT,
    bool_param,
    choice_param,
    date_param,
    db,
    map_points,
    seed_from_url,
    show_map,
    text_param,
    watch_entries,
    write_url,
)

st.title("Map")

with db() as s:
    entries = watch_entries(s)
    trip_ids = [t["trip_id"] for t in queries.trips(s)]
    params = [
        date_param("from", "map_from"), date_param("to", "map_to"), text_param("text", "map_text"),
        choice_param("trip", "map_trip", trip_ids), bool_param("routes", "map_routes", True),
    ]
    seed_from_url("map", params)
    c1, c2 = st.columns(2)
    clock = "Dates by the UTC date of each sighting."
    d_from = c1.date_input("From", value=None, key="map_from", help=clock)
    d_to = c2.date_input("To", value=None, key="map_to", help=clock)
    c1, c2 = st.columns(2)
    text = c1.text_input("Plate", key="map_text", max_chars=MAX_TEXT).strip()
    trip = c2.selectbox("Trip", [ANY, *trip_ids], format_func=lambda t: t or "all trips",
                        key="map_trip") or None
    show_routes = st.toggle("Trip routes", key="map_routes")
    write_url("map", params)
    rows = queries.map_sightings(s, d_from, d_to, text=text or None, trip_id=trip)
    routes = []
    if show_routes:
        route_trips = [trip] if trip else queries.trips_in_range(s, d_from, d_to, limit=10)
        for t in route_trips:
            if pts := queries.trip_route(s, t, max_points=500):
                routes.append(pts)
    st.caption(
        f"{len(rows)} located sighting(s)"
        + (f" (the newest {config.MAX_MAP_POINTS:,}; narrow the dates for more)" if len(rows) >= config.MAX_MAP_POINTS else "")
        + f" · {len(routes)} route(s) · colour: red = low confidence, green = high, magenta = watchlist"
    )
    if not rows and not routes:
        st.info("No located sightings for these filters.")
    else:
        show_map(map_points(rows, entries), routes, height=520, key="map_map", fit_points=True)
    if trip:
        gpx = queries.trip_gpx(s, trip)
        if gpx:
            st.download_button("Download trip route (GPX)", gpx, file_name=f"{trip}.gpx",
                               mime="application/gpx+xml", key="map_gpx")
