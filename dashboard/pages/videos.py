"""Videos: browse by date and trip; duration, plates, GPS, stage; click through."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import config, queries
from dashboard.pages._ui import date_range, db, link
from models.tables import Stage

st.title("Videos")

with db() as s:
    trip_ids = [t["trip_id"] for t in queries.trips(s)]
    wanted = st.query_params.get("trip_id")
    c1, c2 = st.columns(2)
    trip = c1.selectbox(
        "Trip", [None, *trip_ids], index=(trip_ids.index(wanted) + 1) if wanted in trip_ids else 0,
        format_func=lambda t: "all trips" if t is None else t, key="videos_trip",
    )
    stage = c2.selectbox("Stage", [None, *[x.value for x in Stage]],
                         format_func=lambda x: "any stage" if x is None else x, key="videos_stage")
    d_from, d_to = date_range("videos")
    page = st.number_input("Page", min_value=1, value=1, step=1, key="videos_page")
    rows = queries.list_videos(s, d_from, d_to, trip_id=trip, stage=stage,
                               limit=config.PAGE_SIZE, offset=(int(page) - 1) * config.PAGE_SIZE)
    if not rows:
        st.info("No videos match these filters.")
    else:
        st.dataframe(pd.DataFrame([{
            "video": link("video", video_id=r["video_id"]),
            "recorded (camera)": r["recorded_at"], "trip": r["trip_id"],
            "duration s": round(r["duration_s"] or 0, 1), "plates": r["plate_count"],
            "GPS": "yes" if r["has_gps"] else "no", "stage": r["stage"], "error": r["error"] or "",
        } for r in rows]), hide_index=True, column_config={
            "video": st.column_config.LinkColumn(display_text=r"video_id=(.*)"),
        })
        st.caption(f"{len(rows)} video(s) on this page (up to {config.PAGE_SIZE}).")
        for r in rows[:30]:  # plain links too: they work in any browser, and on a phone
            st.markdown(f"- [{r['video_id']}]({link('video', video_id=r['video_id'])}) · {r['stage']}")
    if trip:
        gpx = queries.trip_gpx(s, trip)
        if gpx:
            st.download_button("Download trip route (GPX)", gpx, file_name=f"{trip}.gpx",
                               mime="application/gpx+xml", key="videos_gpx")
        else:
            st.caption("This trip has no GPS track to export.")
