"""The zoho provider: everything about it lives in this folder."""
