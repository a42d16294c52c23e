"""The dashboard: `streamlit run dashboard/app.py` (or `dashcam up`, via dashboard/launch.py)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="dashcam", page_icon="🚗", layout="wide")
# Our own script, not user input: makes Back skip a phantom entry of in-app navigation.
st.html(f"<script>{(Path(__file__).parent / 'history.js').read_text()}</script>",
        unsafe_allow_javascript=True)

# url_path names are the links the pages build ("video?video_id=...").
PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", url_path="home", default=True),
    st.Page("pages/videos.py", title="Videos", icon="🎞️", url_path="videos"),
    st.Page("pages/video.py", title="Video", icon="▶️", url_path="video"),
    st.Page("pages/plate.py", title="Plate", icon="🔖", url_path="plate"),
    st.Page("pages/map.py", title="Map", icon="🗺️", url_path="map"),
    st.Page("pages/search.py", title="Search", icon="🔎", url_path="search"),
    st.Page("pages/watchlist.py", title="Watchlist", icon="🚨", url_path="watchlist"),
]

st.navigation(PAGES).run()
