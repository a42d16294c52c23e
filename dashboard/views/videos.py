"""Videos: browse by date and trip; duration, plates, GPS, state; click through.

Filters and the page number are in the address (`?trip_id=...&state=failed&page=2`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import config, queries
from dashboard.views._ui import (
    ANY,
    choice_param,
    date_param,
    db,
    int_param,
    page_link,
    seed_from_url,
    table,
    write_url,
)
from models.tables import State

st.title("Videos")

with db() as s:
    trip_ids = [t["trip_id"] for t in queries.trips(s)]
    states = [x.value for x in State]
    params = [
        choice_param("trip_id", "videos_trip", trip_ids), choice_param("state", "videos_state", states),
        date_param("from", "videos_from"), date_param("to", "videos_to"),
        int_param("page", "videos_page", 1, 1, 1_000_000),
    ]
    seed_from_url("videos", params)

    def first_page() -> None:  # new filters start at their first page
        st.session_state["videos_page"] = 1

    filtered = any(st.session_state.get(p.key) not in (None, p.default) for p in params[:4])
    # Filters folded away unless one is set: on a phone they took the first screen.
    with st.expander("Filters" + (" (on)" if filtered else ""), expanded=filtered):
        c1, c2 = st.columns(2)
        trip = c1.selectbox("Trip", [ANY, *trip_ids], format_func=lambda t: t or "all trips",
                            key="videos_trip", on_change=first_page) or None
        state = c2.selectbox("State", [ANY, *states], format_func=lambda x: x or "any state",
                             key="videos_state", on_change=first_page) or None
        c1, c2 = st.columns(2)
        d_from = c1.date_input("From", value=None, key="videos_from",
                               help="Dates by the camera clock.", on_change=first_page)
        d_to = c2.date_input("To", value=None, key="videos_to", help="Dates by the camera clock.",
                             on_change=first_page)
    page = int(st.session_state["videos_page"])
    rows = queries.list_videos(s, d_from, d_to, trip_id=trip, state=state,
                               limit=config.PAGE_SIZE + 1, offset=(page - 1) * config.PAGE_SIZE)
    more_pages, rows = len(rows) > config.PAGE_SIZE, rows[: config.PAGE_SIZE]
    if not rows:
        st.info("No videos match these filters." if page == 1 else f"No videos on page {page}.")
    else:
        st.caption(f"Page {page}: videos {(page - 1) * config.PAGE_SIZE + 1}-"
                   f"{(page - 1) * config.PAGE_SIZE + len(rows)}. Tap a video to open it.")
        full = pd.DataFrame([{
            "video": r["video_id"], "recorded (camera)": r["recorded_at"], "plates": r["plate_count"],
            "state": r["state"], "trip": r["trip_id"], "duration s": round(r["duration_s"] or 0, 1),
            "GPS": "yes" if r["has_gps"] else "no", "error": r["error"] or "",
        } for r in rows])
        table(full[["video", "recorded (camera)", "state"]], "videos_table",
              targets={"video": lambda i: ("video", {"video_id": rows[i]["video_id"]})}, more=full)
    # Paging below the table, apart from it: the table's toolbar (search, download, full
    # screen) floats over whatever sits just above it, and covered the page buttons on a phone.
    with st.container(horizontal=True):  # side by side on a phone too
        prev = st.button("◀ Previous page", key="videos_prev", disabled=page <= 1)
        nxt = st.button("Next page ▶", key="videos_next", disabled=not more_pages)
    if prev:
        st.session_state["videos_page"] = page - 1
        st.rerun()
    if nxt:
        st.session_state["videos_page"] = page + 1
        st.rerun()
    write_url("videos", params)
    for r in rows[:30]:  # links too: a table cell is a small target on a phone
        page_link("video", f"{r['video_id']} · {r['state']}", icon="🎞️", video_id=r["video_id"])
    if trip:
        gpx = queries.trip_gpx(s, trip)
        if gpx:
            st.download_button("Download trip route (GPX)", gpx, file_name=f"{trip}.gpx",
                               mime="application/gpx+xml", key="videos_gpx")
        else:
            st.caption("This trip has no GPS track to export.")
