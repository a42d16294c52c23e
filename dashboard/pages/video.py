"""Video: archival playback from any sighting, route with sightings, plates, best frames."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.pages._ui import (
    db,
    fmt_conf,
    link,
    map_points,
    mark,
    param_text,
    param_time,
    show_image,
    show_map,
    show_video,
    watch_entries,
)

st.title("Video")

video_id = param_text("video_id") or None
with db() as s:
    if not video_id:
        recent = queries.list_videos(s, limit=1)
        if not recent:
            st.info("No videos yet.")
            st.stop()
        video_id = recent[0]["video_id"]
        st.caption("No video chosen: showing the newest one. Pick one on the Videos page.")
    v = queries.get_video(s, video_id)
    if v is None:
        st.warning(f"No video {video_id!r} in the database.")
        st.stop()
    entries = watch_entries(s)
    st.subheader(v["video_id"])
    trip_link = f"[{v['trip_id']}]({link('videos', trip_id=v['trip_id'])})" if v["trip_id"] else "–"
    st.markdown(
        f"Trip {trip_link} · recorded {v['recorded_at'] or '–'} (camera clock) · "
        f"{(v['duration_s'] or 0):.0f} s · stage **{v['stage']}** · GPS {'yes' if v['has_gps'] else 'no'}"
    )
    if v["error"]:
        st.error(f"Failed: {v['error']}")
    if v["gps_note"]:
        st.caption(f"GPS: {v['gps_note']}")

    sightings = queries.video_sightings(s, video_id)
    t0 = param_time("t", v["duration_s"])
    options = [None, *range(len(sightings))]
    choice = st.selectbox(
        "Start playback at a sighting", options,
        format_func=lambda i: f"start ({t0:.1f} s)" if i is None else
        f"{sightings[i]['frame_s']:.1f} s · {sightings[i]['plate_text'] or sightings[i]['text']} ({fmt_conf(sightings[i]['confidence'])})",
        key="video_start",
    )
    start = t0 if choice is None else float(sightings[choice]["frame_s"])
    show_video(video_id, start)

    st.subheader("Route and sightings")
    route = queries.video_route(s, video_id)
    show_map(map_points([{**x, "text": x["plate_text"] or x["text"]} for x in sightings], entries),
             [[[p["lon"], p["lat"]] for p in route]] if route else [], key="video_map")

    st.subheader("Plates")
    plates = queries.video_plates(s, video_id)
    if not plates:
        st.info("No plates in this video.")
    else:
        st.dataframe(pd.DataFrame([{
            "plate": link("plate", text=p["text"]), "watch": mark(p["text"], entries),
            "confidence": fmt_conf(p["confidence"]), "vehicle": p["vehicle"] or "",
            "formats": p["region"] or "",
            "sightings": p["sighting_count"], "from s": p["first_seen_s"], "to s": p["last_seen_s"],
            "play": link("video", video_id=video_id, t=p["first_seen_s"]),
        } for p in plates]), hide_index=True, column_config={
            "plate": st.column_config.LinkColumn(display_text=r"text=(.*)"),
            "play": st.column_config.LinkColumn(display_text="▶ play here"),
        })
        cols = st.columns(min(4, len(plates)))
        for i, p in enumerate(plates):
            with cols[i % len(cols)]:
                show_image(p["best_crop"], caption=f"{p['text']} {fmt_conf(p['confidence'])}")
                st.markdown(f"[{p['text']}]({link('plate', text=p['text'])})")

    st.subheader("Best frames")
    frames = queries.video_frames(s, video_id)
    if not frames:
        st.info("No stored frames.")
    for f in frames:
        show_image(f["path"], caption=f"{f['frame_s']:.1f} s")
