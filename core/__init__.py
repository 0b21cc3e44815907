"""NIRCam darks analysis core: pure Python, no Streamlit.  See docs/architecture.md for the layout."""

__version__ = "0.2.0"  # part of every result-store key: results of earlier versions are recomputed
