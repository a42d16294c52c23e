"""Watchlist: known plates with a label; their sightings (and near matches) are marked everywhere."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.views._ui import db, fmt_conf, mark, page_link, table
from tasks.watchlist import add_entry, list_entries, remove_entry

st.title("Watchlist")
st.caption("Sightings of these plates are marked 🚨 on every page; one character off or an "
           "OCR confusion (O/0, B/8, I/1, S/5, Z/2, G/6) counts as a near match.")

with db() as s:
    with st.form("watch_add", clear_on_submit=True):
        c1, c2 = st.columns(2)
        new_text = c1.text_input("Plate text", key="watch_new_text")
        new_label = c2.text_input("Label", key="watch_new_label")
        if st.form_submit_button("Add / relabel"):
            try:
                e = add_entry(s, new_text, new_label)
                st.success(f"Watching {e.text}.")
            except ValueError as exc:
                st.error(str(exc))
    entries = list_entries(s)
    if not entries:
        st.info("The watchlist is empty.")
        st.stop()
    for e in entries:
        c1, c2, c3, c4 = st.columns([2, 3, 1, 1])
        with c1:
            page_link("plate", f"**{e.text}**", text=e.text)
        label = c2.text_input("Label", value=e.label, key=f"watch_label_{e.id}", label_visibility="collapsed")
        if c3.button("Save", key=f"watch_save_{e.id}"):
            add_entry(s, e.text, label)
            st.rerun()
        if c4.button("Remove", key=f"watch_remove_{e.id}"):
            remove_entry(s, e.id or 0)
            st.rerun()

    st.subheader("Recent sightings of watched plates")
    texts = [e.text for e in entries]
    hits = queries.near_filter(queries.watch_hits(s, texts, limit=200), texts)
    if not hits:
        st.info("None of them has been seen.")
    else:
        full = pd.DataFrame([{
            "plate": f"{h['text']} {mark(h['text'], entries)}".strip(), "seen (camera)": h["first_seen_at"],
            "confidence": fmt_conf(h["confidence"]), "trip": h["trip_id"], "video": h["video_id"],
        } for h in hits])
        table(full[["plate", "seen (camera)", "video"]], "watch_hits", targets={
            "plate": lambda i: ("plate", {"text": hits[i]["text"]}),
            "video": lambda i: ("video", {"video_id": hits[i]["video_id"], "t": hits[i]["first_seen_s"]}),
        }, more=full)
