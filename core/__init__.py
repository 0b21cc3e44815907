"""NIRCam darks analysis core: pure Python, no Streamlit.  See README.md for the layout."""

__version__ = "0.1.0"
