"""Page chrome: config, CSS, header."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# The tab bar's widget key and first tab (tests open a tab by setting S[TAB_KEY]).
TAB_KEY = "main_tab"
BUILD_TAB = ":material/account_tree: Build"
CSS = Path(__file__).resolve().parent.parent / "assets" / "css" / "app.css"


def setup_page() -> None:
    st.set_page_config(page_title="LayerCraft", page_icon=":material/account_tree:", layout="wide")
    st.markdown(f"<style>{CSS.read_text(encoding='utf-8')}</style>", unsafe_allow_html=True)


def header() -> None:
    st.markdown("### :material/account_tree: Layer:orange[Craft]")
    st.caption("Build a neural network from layers, train it live, take the PyTorch code.")
