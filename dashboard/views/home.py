"""Home: pipeline health, watchlist sightings, recent trips, recently seen plates."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.views._ui import db, fmt_conf, mark, page_link, table, watch_entries

st.title("dashcam")

with db() as s:
    entries = watch_entries(s)
    st.subheader("Pipeline health")
    counts = queries.state_counts(s)
    busy = sum(n for state, n in counts.items() if state not in ("archived", "failed"))
    # Three figures, not one per state, in a row that wraps (columns stack on a phone, one
    # screen-wide row per figure).
    with st.container(horizontal=True, gap="large"):
        st.metric("archived", counts.get("archived", 0), width="content")
        st.metric("in progress", busy, width="content")
        st.metric("failed", counts.get("failed", 0), width="content")
    st.caption(" · ".join(f"{state} {n}" for state, n in counts.items()))
    runs = queries.last_runs(s)
    st.caption(
        "Last activity — "
        + " · ".join(f"{k}: {v:%Y-%m-%d %H:%M} UTC" if v else f"{k}: never" for k, v in runs.items())
    )
    fails = queries.failures(s, limit=20)
    if fails:
        with st.expander(f"⚠️ {len(fails)} failed video(s)", expanded=True):
            full = pd.DataFrame([{"video": f["video_id"], "reason": f["error"], "file": f["path"],
                                  "attempts": f["attempts"]} for f in fails])
            table(full[["video", "reason"]], "home_failures",
                  targets={"video": lambda i: ("video", {"video_id": fails[i]["video_id"]})})
    else:
        st.success("No failed videos.")

    hits = queries.near_filter(queries.watch_hits(s, [e.text for e in entries], limit=10),
                               [e.text for e in entries]) if entries else []
    if hits:
        st.subheader("🚨 Watchlist sightings")
        table(pd.DataFrame([{
            "plate": f"{h['text']} {mark(h['text'], entries)}".strip(), "seen": h["first_seen_at"],
            "video": h["video_id"],
        } for h in hits]), "home_hits", targets={
            "plate": lambda i: ("plate", {"text": hits[i]["text"]}),
            "video": lambda i: ("video", {"video_id": hits[i]["video_id"], "t": hits[i]["first_seen_s"]}),
        })

    st.subheader("Recent trips")
    trips = queries.recent_trips(s, limit=10)
    if trips:
        full = pd.DataFrame([{
            "trip": t["trip_id"], "started (camera)": t["started_at"], "videos": t["video_count"],
            "camera": t["camera"],
        } for t in trips])
        table(full[["trip", "started (camera)", "videos"]], "home_trips",
              targets={"trip": lambda i: ("videos", {"trip_id": trips[i]["trip_id"]})}, more=full)
    else:
        st.info("No trips yet: drop clips into the raw volume and the pipeline will fill this.")

    st.subheader("Recently seen plates")
    plates = queries.recent_plates(s, limit=20)
    if plates:
        st.caption("Tap a plate, a trip or a video to open it.")
        full = pd.DataFrame([{
            "plate": f"{p['text']} {mark(p['text'], entries)}".strip(), "seen (camera)": p["first_seen_at"],
            "confidence": fmt_conf(p["confidence"]), "sightings": p["sighting_count"],
            "video": p["video_id"],
        } for p in plates])
        targets = {
            "plate": lambda i: ("plate", {"text": plates[i]["text"]}),
            "video": lambda i: ("video", {"video_id": plates[i]["video_id"]}),
        }
        table(full[["plate", "seen (camera)", "confidence"]], "home_plates", targets=targets, more=full)
        for text in list(dict.fromkeys(p["text"] for p in plates))[:8]:  # links: big tap targets
            page_link("plate", text, icon="🔖", text=text)
    else:
        st.info("No plates seen yet.")
