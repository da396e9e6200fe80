"""The outlook_calendar provider: everything about it lives in this folder."""
