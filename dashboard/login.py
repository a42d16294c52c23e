"""The login screen in front of every page (dashboard/auth.py decides and checks)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth
from dashcam.settings import Settings

USER_KEY = "dashcam_user"


def _address(settings: Settings) -> str:
    # The address Streamlit was really started on (`--server.address`), else the setting.
    return st.get_option("server.address") or settings.dashboard_address


def allowed(settings: Settings) -> bool:
    """May this session see the pages? (No rendering: the caller lays out the navigation.)"""
    if not auth.login_required(settings, _address(settings)):
        return True
    return st.session_state.get(USER_KEY) == settings.dashboard_user and not auth.startup_problem(
        settings, _address(settings))


def screen(settings: Settings) -> None:
    """The login form, or why there is none (then nothing of the archive is shown)."""
    st.title("dashcam")
    if problem := auth.startup_problem(settings, _address(settings)):
        st.error(f"This dashboard is locked: {problem}")
        return
    with st.form("login"):
        user = st.text_input("User name", key="login_user", max_chars=200, autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password",
                                 max_chars=auth.MAX_PASSWORD, autocomplete="current-password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        source = st.context.ip_address or "local"
        result = auth.attempt(settings, source, user or "", password or "")
        if result.ok:
            st.session_state[USER_KEY] = settings.dashboard_user
            st.rerun()
        st.error(result.message)


def sign_out(settings: Settings) -> None:
    if st.session_state.get(USER_KEY) and st.sidebar.button("Log out", key="logout"):
        st.session_state.pop(USER_KEY, None)
        st.rerun()
