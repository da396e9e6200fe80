"""The google_calendar provider: everything about it lives in this folder."""
