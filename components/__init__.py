"""Streamlit pieces of the LayerCraft app; the UI-free logic in each is plain functions."""
