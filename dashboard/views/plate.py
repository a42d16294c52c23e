"""Plate: best crop and alternates, every sighting of the text, where, and how sure."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.views._ui import (
    MAX_TEXT,
    Param,
    db,
    evidence_button,
    fmt_conf,
    map_points,
    mark,
    page_link,
    seed_from_url,
    show_image,
    show_map,
    table,
    text_param,
    watch_entries,
    write_url,
)
from tasks.plate_text import normalize

st.title("Plate")

with db() as s:
    params = [text_param("text", "plate_text")]
    plate_id = st.query_params.get("plate_id")
    if plate_id and not st.query_params.get("text"):
        # An alert's or an old link's plate_id: the page is about its text from here on.
        p = queries.get_plate(s, plate_id) if len(plate_id) <= 200 else None
        if p is None:
            st.warning(f"No plate {plate_id[:60]!r} in the database (a link from an older database?).")
        else:
            st.query_params["text"] = p["text"]
    seed_from_url("plate", params)
    text = st.text_input("Plate text", key="plate_text", max_chars=MAX_TEXT).strip()
    # The chosen sighting (Evidence, below) stays while the plate does.
    write_url("plate", params, keep=("sighting",) if st.query_params.get("text") == text else ())
    if not text:
        st.info("Enter a plate text, or open one from Search, a video or the home page.")
        st.stop()
    text = normalize(text)
    entries = watch_entries(s)
    hit = mark(text, entries)
    st.header(f"{text} {hit}".strip())

    crops = queries.plate_crops(s, text)
    if not crops:
        st.warning(f"{text} was never seen. Try Search for near matches.")
        page_link("search", f"Search for {text}", icon="🔎", q=text)
        st.stop()
    best, alternates = crops[0], crops[1:]
    c1, c2 = st.columns([1, 2])
    with c1:
        show_image(best["best_crop"], caption=f"best crop {fmt_conf(best['confidence'])}")
    with c2:
        timeline = queries.plate_timeline(s, text)
        plates = queries.plates_by_text(s, text)
        videos = {r["video_id"] for r in timeline}
        trips = {r["trip_id"] for r in timeline if r["trip_id"]}
        st.metric("Sightings", len(timeline))
        st.caption(f"in {len(plates)} plate group(s), {len(videos)} video(s), {len(trips)} trip(s)")
        if kinds := sorted({p["vehicle"] for p in plates if p["vehicle"]}):
            st.caption(f"on a {' / '.join(kinds)}")
        if regions := sorted({p["region"] for p in plates if p["region"] and p["region"] != "all"}):
            st.caption(f"read with the plate formats of {', '.join(regions)}")
    if alternates:
        st.subheader("Alternate crops")
        cols = st.columns(min(4, len(alternates)))
        for i, a in enumerate(alternates):
            with cols[i % len(cols)]:
                show_image(a["best_crop"], caption=f"{a['video_id']} {fmt_conf(a['confidence'])}")

    st.subheader("Timeline")
    st.caption("Tap a video to play it from that sighting.")
    full = pd.DataFrame([{
        "seen (camera)": r["seen_at"], "video": r["video_id"], "confidence": r["confidence"],
        "read": r["text"] or "(not read)", "UTC": r["time_utc"] or "", "trip": r["trip_id"] or "",
        "frame s": r["frame_s"],
    } for r in timeline])
    # Neutral: the theme's primary red at 1.00 said "bad" where the maps' red means low.
    bars = {"confidence": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f",
                                                          color="blue")}
    table(full[["seen (camera)", "video", "confidence"]], "plate_timeline", targets={
        "video": lambda i: ("video", {"video_id": timeline[i]["video_id"], "sighting": timeline[i]["id"]}),
    }, column_config=bars, more=full)
    for vid in sorted(videos)[:20]:
        first = min((r for r in timeline if r["video_id"] == vid), key=lambda r: r["frame_s"])
        page_link("video", f"{vid} at {first['frame_s']:.1f} s", icon="▶️", video_id=vid,
                  sighting=first["id"])

    st.subheader("Evidence")
    by_id = {r["id"]: r for r in timeline}
    if by_id:
        best_id = max(timeline, key=lambda r: (r["confidence"] or 0.0, -r["frame_s"]))["id"]

        def parse_sighting(raw: str) -> int:
            if not raw.isdigit() or int(raw) not in by_id:
                raise ValueError("is not a sighting of this plate")
            return int(raw)

        # The chosen sighting is in the address too: a shared link exports the same moment.
        evidence_params = [*params, Param("sighting", "plate_evidence", best_id, parse_sighting)]
        seed_from_url("plate", evidence_params[1:])
        chosen = st.selectbox(
            "Sighting", list(by_id), key="plate_evidence",
            format_func=lambda i: f"{by_id[i]['seen_at'] or '?'} · {by_id[i]['video_id']} at "
            f"{by_id[i]['frame_s']:.1f} s · {fmt_conf(by_id[i]['confidence'])}",
            help="The most legible one first; any other can be chosen.",
        )
        write_url("plate", evidence_params)
        evidence_button({**by_id[chosen], "plate_text": text}, by_id[chosen]["video_id"],
                        key="plate_evidence_zip")

    st.subheader("Where")
    show_map(map_points([{**r, "text": text} for r in timeline], entries), key="plate_map")

    st.subheader("Confidence")
    breakdown = queries.confidence_breakdown(timeline)
    c1, c2 = st.columns(2)
    with c1:
        st.caption("OCR confidence of each sighting")
        st.bar_chart(pd.DataFrame({"sightings": list(breakdown["histogram"].values())},
                                  index=list(breakdown["histogram"].keys())))
    with c2:
        st.caption("What OCR read, frame by frame")
        st.dataframe(pd.DataFrame([{"read": k, "frames": n} for k, n in breakdown["reads"].items()]),
                     hide_index=True)
