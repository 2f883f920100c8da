"""Who owns a project: the signed-in user when Streamlit's built-in sign-in (st.login,
OIDC, configured under [auth] in secrets.toml) is set up; nobody when it is not, and then
the app behaves as before (the project id in the URL is the only key)."""

from __future__ import annotations

import streamlit as st


def user_info() -> dict:
    """st.user as a plain dict ({} outside a script run)."""
    try:
        return dict(st.user.to_dict())
    except Exception:  # no script context (bare mode) or an older Streamlit
        return {}


def owner_from(info: dict) -> str | None:
    """The owner key for projects: None when sign-in is not configured (no is_logged_in key)."""
    if "is_logged_in" not in info or not info.get("is_logged_in"):
        return None
    return str(info.get("email") or info.get("sub") or "") or None


def current_owner() -> str | None:
    """The signed-in user's key; with sign-in configured but nobody signed in, the page
    offers Log in and stops here, so no project is opened anonymously."""
    info = user_info()
    if "is_logged_in" in info and not info["is_logged_in"]:
        st.info("Sign in to open your projects.", icon=":material/login:")
        st.button("Log in", key="login_btn", on_click=st.login)
        st.stop()
    return owner_from(info)
