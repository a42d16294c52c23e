"""The dashboard: `streamlit run dashboard/app.py` (or `dashcam up`, via dashboard/launch.py)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import login
from dashcam.settings import Settings

st.set_page_config(page_title="dashcam", page_icon="🚗", layout="wide")
# Our own script, not user input: makes Back skip a phantom entry of in-app navigation.
st.html(f"<script>{(Path(__file__).parent / 'history.js').read_text()}</script>",
        unsafe_allow_javascript=True)

# url_path names are the links the pages build ("video?video_id=..."). The folder is `views/`,
# never `pages/`: beside a `pages/` folder Streamlit runs the first request of a fresh server the
# old way, the requested page's script alone, past this file and its login.
PAGES = [
    st.Page("views/home.py", title="Home", icon="🏠", url_path="home", default=True),
    st.Page("views/videos.py", title="Videos", icon="🎞️", url_path="videos"),
    st.Page("views/video.py", title="Video", icon="▶️", url_path="video"),
    st.Page("views/plate.py", title="Plate", icon="🔖", url_path="plate"),
    st.Page("views/map.py", title="Map", icon="🗺️", url_path="map"),
    st.Page("views/search.py", title="Search", icon="🔎", url_path="search"),
    st.Page("views/watchlist.py", title="Watchlist", icon="🚨", url_path="watchlist"),
]

settings = Settings()
if login.allowed(settings):
    page = st.navigation(PAGES)
    login.sign_out(settings)
    page.run()
else:
    # The requested page (and its address) waits behind the login: after it, the same page.
    st.navigation(PAGES, position="hidden")
    login.screen(settings)
