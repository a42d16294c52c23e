"""Home: recent trips, recently seen plates, pipeline health."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.pages._ui import db, fmt_conf, link, mark, watch_entries

st.title("dashcam")

with db() as s:
    entries = watch_entries(s)
    st.subheader("Pipeline health")
    counts = queries.stage_counts(s)
    cols = st.columns(len(counts))
    for col, (stage, n) in zip(cols, counts.items(), strict=True):
        col.metric(stage, n)
    runs = queries.last_runs(s)
    st.caption(
        "Last activity — "
        + " · ".join(f"{k}: {v:%Y-%m-%d %H:%M} UTC" if v else f"{k}: never" for k, v in runs.items())
    )
    fails = queries.failures(s, limit=20)
    if fails:
        with st.expander(f"⚠️ {len(fails)} failed video(s)", expanded=True):
            st.dataframe(
                pd.DataFrame([{"video": f["video_id"], "file": f["path"], "reason": f["error"],
                               "attempts": f["attempts"]} for f in fails]),
                hide_index=True,
            )
    else:
        st.success("No failed videos.")

    hits = queries.near_filter(queries.watch_hits(s, [e.text for e in entries], limit=10),
                               [e.text for e in entries]) if entries else []
    if hits:
        st.subheader("🚨 Watchlist sightings")
        st.dataframe(pd.DataFrame([{
            "plate": link("plate", text=h["text"]), "watch": mark(h["text"], entries),
            "seen": h["first_seen_at"], "video": link("video", video_id=h["video_id"], t=h["first_seen_s"]),
        } for h in hits]), hide_index=True, column_config={
            "plate": st.column_config.LinkColumn(display_text=r"text=(.*)"),
            "video": st.column_config.LinkColumn(display_text=r"video_id=([^&]*)"),
        })

    st.subheader("Recent trips")
    trips = queries.recent_trips(s, limit=10)
    if trips:
        st.dataframe(pd.DataFrame([{
            "trip": link("videos", trip_id=t["trip_id"]), "started (camera)": t["started_at"],
            "videos": t["video_count"], "camera": t["camera"],
        } for t in trips]), hide_index=True, column_config={
            "trip": st.column_config.LinkColumn(display_text=r"trip_id=(.*)"),
        })
    else:
        st.info("No trips yet: drop clips into the raw volume and the pipeline will fill this.")

    st.subheader("Recently seen plates")
    plates = queries.recent_plates(s, limit=20)
    if plates:
        st.dataframe(pd.DataFrame([{
            "plate": link("plate", text=p["text"]), "watch": mark(p["text"], entries),
            "confidence": fmt_conf(p["confidence"]), "sightings": p["sighting_count"],
            "seen (camera)": p["first_seen_at"], "video": link("video", video_id=p["video_id"]),
        } for p in plates]), hide_index=True, column_config={
            "plate": st.column_config.LinkColumn(display_text=r"text=(.*)"),
            "video": st.column_config.LinkColumn(display_text=r"video_id=([^&]*)"),
        })
        st.markdown(" · ".join(f"[{p['text']}]({link('plate', text=p['text'])})" for p in plates[:8]))
    else:
        st.info("No plates seen yet.")
