"""The dashboard's pages (Streamlit runs them by file path from dashboard/app.py); a package so
the wheel carries them and the layering check sees their imports."""
