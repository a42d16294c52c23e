"""Search: fuzzy plate text (OCR confusions, one off) and wildcards, with filters and CSV export.

Everything the user sets is in the address (`?q=AB1*&conf=0.5&trip=...`): a search can be
bookmarked or shared, and Back returns to it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.views._ui import (
    ANY,
    MAX_TEXT,
    bool_param,
    choice_param,
    date_param,
    db,
    float_param,
    fmt_conf,
    mark,
    page_link,
    seed_from_url,
    table,
    text_param,
    watch_entries,
    write_url,
)

MATCH = {0: "exact", 1: "OCR-equivalent", 2: "one off", 3: "wildcard"}

st.title("Search")
st.caption("`?` one character, `*` any run. Without wildcards, OCR confusions "
           "(O/0, B/8, I/1, S/5, Z/2, G/6) and one wrong, missing or extra character still match.")

with db() as s:
    entries = watch_entries(s)
    trip_ids = [t["trip_id"] for t in queries.trips(s)]
    params = [
        text_param("q", "search_q"), bool_param("fuzzy", "search_fuzzy", True),
        date_param("from", "search_from"), date_param("to", "search_to"),
        float_param("conf", "search_conf", 0.0, 0.0, 1.0), choice_param("trip", "search_trip", trip_ids),
        bool_param("box", "search_use_box", False),
        float_param("south", "search_s", -90.0, -90.0, 90.0), float_param("west", "search_w", -180.0, -180.0, 180.0),
        float_param("north", "search_n", 90.0, -90.0, 90.0), float_param("east", "search_e", 180.0, -180.0, 180.0),
    ]
    seed_from_url("search", params)
    q = st.text_input("Plate text", key="search_q", max_chars=MAX_TEXT).strip()
    fuzzy = st.toggle("Near matches (one character off)", key="search_fuzzy")
    with st.expander("Filters"):
        c1, c2 = st.columns(2)
        d_from = c1.date_input("From", value=None, key="search_from", help="Dates by the camera clock.")
        d_to = c2.date_input("To", value=None, key="search_to", help="Dates by the camera clock.")
        min_conf = st.slider("Minimum confidence", 0.0, 1.0, step=0.05, key="search_conf")
        trip = st.selectbox("Trip", [ANY, *trip_ids], format_func=lambda t: t or "all trips",
                            key="search_trip") or None
        use_box = st.checkbox("Only inside a map region", key="search_use_box")
        bbox = None
        if use_box:
            c1, c2, c3, c4 = st.columns(4)
            south = c1.number_input("South lat", -90.0, 90.0, key="search_s")
            west = c2.number_input("West lon", -180.0, 180.0, key="search_w")
            north = c3.number_input("North lat", -90.0, 90.0, key="search_n")
            east = c4.number_input("East lon", -180.0, 180.0, key="search_e")
            bbox = queries.BBox(south, west, north, east)
    # The box's corners are only state while the box is on.
    write_url("search", params if use_box else params[:7])
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
    st.success(f"{len(rows)} plate group(s) match {q!r}. Tap a plate or a video to open it.")
    full = pd.DataFrame([{
        "plate": f"{r['text']} {mark(r['text'], entries)}".strip(), "match": MATCH.get(r["match"], "?"),
        "confidence": fmt_conf(r["confidence"]), "video": r["video_id"],
        "seen (camera)": r["first_seen_at"], "sightings": r["sighting_count"], "trip": r["trip_id"],
    } for r in rows])
    table(full[["plate", "match", "confidence", "video"]], "search_table", targets={
        "plate": lambda i: ("plate", {"text": rows[i]["text"]}),
        "video": lambda i: ("video", {"video_id": rows[i]["video_id"], "t": rows[i]["first_seen_s"]}),
    }, more=full)
    best = {}
    for r in rows:  # a link per plate text (its page has every video): a big target on a phone
        best.setdefault(r["text"], r)
    for r in list(best.values())[:15]:
        page_link("plate", f"{r['text']} ({MATCH.get(r['match'])})", icon="🔖", text=r["text"])
    export = pd.DataFrame([{k: r[k] for k in ("text", "plate_id", "video_id", "trip_id", "confidence",
                                              "sighting_count", "first_seen_at", "first_seen_utc",
                                              "lat", "lon")} | {"match": MATCH.get(r["match"])}
                           for r in rows])
    st.download_button("Export CSV", export.to_csv(index=False), file_name="plate-search.csv",
                       mime="text/csv", key="search_csv")
