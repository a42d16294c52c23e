"""Video: archival playback from any sighting, route with sightings, plates, best frames."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.views._ui import (
    Param,
    db,
    evidence_button,
    fmt_conf,
    map_points,
    mark,
    page_link,
    param_text,
    param_time,
    seed_from_url,
    show_image,
    show_map,
    show_video,
    table,
    watch_entries,
    write_url,
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
    st.markdown(
        f"Recorded {v['recorded_at'] or '–'} (camera clock) · "
        f"{(v['duration_s'] or 0):.0f} s · state **{v['state']}** · GPS {'yes' if v['has_gps'] else 'no'}"
    )
    if v["trip_id"]:
        page_link("videos", f"Trip {v['trip_id']}", icon="🧭", trip_id=v["trip_id"])
    if v["error"]:
        st.error(f"Failed: {v['error']}")
    if v["gps_note"]:
        st.caption(f"GPS: {v['gps_note']}")

    sightings = queries.video_sightings(s, video_id)
    by_id = {x["id"]: x for x in sightings}

    def parse_sighting(raw: str) -> int:
        if not raw.isdigit() or int(raw) not in by_id:
            raise ValueError("is not a sighting of this video")
        return int(raw)

    # The chosen sighting is in the address (`sighting=<id>`): a bookmark plays from it.
    params = [Param("sighting", "video_start", None, parse_sighting)]
    seed_from_url("video", params)
    t0 = param_time("t", v["duration_s"])
    choice = st.selectbox(
        "Start playback at a sighting", [None, *by_id],
        format_func=lambda i: f"start ({t0:.1f} s)" if i is None else
        f"{by_id[i]['frame_s']:.1f} s · {by_id[i]['plate_text'] or by_id[i]['text']} ({fmt_conf(by_id[i]['confidence'])})",
        key="video_start",
    )
    write_url("video", params, video_id=video_id,
              t=st.query_params.get("t") if choice is None and t0 else None)
    start = t0 if choice is None else float(by_id[choice]["frame_s"])
    if show_video(video_id, start):
        if choice is not None:
            evidence_button(by_id[choice], video_id, key="video_evidence")
        elif sightings:
            st.caption("🧾 Pick a sighting above to download a clip around it with a report.")

    st.subheader("Route and sightings")
    route = queries.video_route(s, video_id)
    show_map(map_points([{**x, "text": x["plate_text"] or x["text"]} for x in sightings], entries),
             [[[p["lon"], p["lat"]] for p in route]] if route else [], key="video_map")

    st.subheader("Plates")
    plates = queries.video_plates(s, video_id)
    if not plates:
        st.info("No plates in this video.")
    else:
        st.caption("Tap a plate to open it, or its time to play from there.")
        full = pd.DataFrame([{
            "plate": f"{p['text']} {mark(p['text'], entries)}".strip(),
            "confidence": fmt_conf(p["confidence"]), "play": f"▶ {p['first_seen_s']:.1f} s",
            "vehicle": p["vehicle"] or "", "formats": p["region"] or "",
            "sightings": p["sighting_count"], "from s": p["first_seen_s"], "to s": p["last_seen_s"],
        } for p in plates])
        first_sighting = {}
        for x in sightings:  # each plate's first sighting: where "play" starts
            first_sighting.setdefault(x["plate_id"], x["id"])
        table(full[["plate", "confidence", "play"]], "video_plates", targets={
            "plate": lambda i: ("plate", {"text": plates[i]["text"]}),
            "play": lambda i: ("video", {"video_id": video_id,
                                         "sighting": first_sighting.get(plates[i]["plate_id"]),
                                         "t": None if plates[i]["plate_id"] in first_sighting
                                         else plates[i]["first_seen_s"]}),
        }, more=full)
        cols = st.columns(min(4, len(plates)))
        for i, p in enumerate(plates):
            with cols[i % len(cols)]:
                show_image(p["best_crop"], caption=f"{p['text']} {fmt_conf(p['confidence'])}")
                page_link("plate", p["text"], text=p["text"])

    st.subheader("Best frames")
    frames = queries.video_frames(s, video_id)
    if not frames:
        st.info("No stored frames.")
    for f in frames:
        show_image(f["path"], caption=f"{f['frame_s']:.1f} s")
