"""Search: fuzzy plate text (OCR confusions, one off) and wildcards, with filters and CSV export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.pages._ui import (
    MAX_TEXT,
    date_range,
    db,
    fmt_conf,
    link,
    mark,
    param_text,
    watch_entries,
)

MATCH = {0: "exact", 1: "OCR-equivalent", 2: "one off", 3: "wildcard"}

st.title("Search")
st.caption("`?` one character, `*` any run. Without wildcards, OCR confusions "
           "(O/0, B/8, I/1, S/5, Z/2, G/6) and one wrong, missing or extra character still match.")

with db() as s:
    entries = watch_entries(s)
    q = st.text_input("Plate text", value=param_text("q"), key="search_q", max_chars=MAX_TEXT).strip()
    fuzzy = st.toggle("Near matches (one character off)", value=True, key="search_fuzzy")
    with st.expander("Filters"):
        d_from, d_to = date_range("search")
        min_conf = st.slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05, key="search_conf")
        trip_ids = [t["trip_id"] for t in queries.trips(s)]
        trip = st.selectbox("Trip", [None, *trip_ids], format_func=lambda t: "all trips" if t is None else t,
                            key="search_trip")
        use_box = st.checkbox("Only inside a map region", key="search_use_box")
        bbox = None
        if use_box:
            c1, c2, c3, c4 = st.columns(4)
            south = c1.number_input("South lat", -90.0, 90.0, -90.0, key="search_s")
            west = c2.number_input("West lon", -180.0, 180.0, -180.0, key="search_w")
            north = c3.number_input("North lat", -90.0, 90.0, 90.0, key="search_n")
            east = c4.number_input("East lon", -180.0, 180.0, 180.0, key="search_e")
            bbox = queries.BBox(south, west, north, east)
    if not q:
        st.info("Type a plate text to search.")
        st.stop()
    if sum(ch.isalnum() for ch in q) < 2:
        st.warning(f"{q!r} is too broad: give at least 2 letters or digits (`?` and `*` fill the rest).")
        st.stop()
    filters = queries.SearchFilters(d_from, d_to, float(min_conf), trip, bbox)
    rows = queries.search_plates(s, q, filters, fuzzy=fuzzy)
    if not rows:
        st.warning(f"No plates match {q!r} with these filters.")
        st.stop()
    st.success(f"{len(rows)} plate group(s) match {q!r}.")
    table = pd.DataFrame([{
        "plate": link("plate", text=r["text"]), "match": MATCH.get(r["match"], "?"),
        "watch": mark(r["text"], entries), "confidence": fmt_conf(r["confidence"]),
        "sightings": r["sighting_count"], "seen (camera)": r["first_seen_at"], "trip": r["trip_id"],
        "video": link("video", video_id=r["video_id"], t=r["first_seen_s"]),
    } for r in rows])
    st.dataframe(table, hide_index=True, column_config={
        "plate": st.column_config.LinkColumn(display_text=r"text=(.*)"),
        "video": st.column_config.LinkColumn(display_text=r"video_id=([^&]*)"),
    })
    for r in rows[:15]:
        st.markdown(f"- [{r['text']}]({link('plate', text=r['text'])}) "
                    f"({MATCH.get(r['match'])}) in [{r['video_id']}]"
                    f"({link('video', video_id=r['video_id'], t=r['first_seen_s'])})")
    export = pd.DataFrame([{k: r[k] for k in ("text", "plate_id", "video_id", "trip_id", "confidence",
                                              "sighting_count", "first_seen_at", "first_seen_utc",
                                              "lat", "lon")} | {"match": MATCH.get(r["match"])}
                           for r in rows])
    st.download_button("Export CSV", export.to_csv(index=False), file_name="plate-search.csv",
                       mime="text/csv", key="search_csv")
