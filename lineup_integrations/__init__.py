"""Lineup's integrations framework: Zoho CRM, Google Calendar and Outlook Calendar on Dagster."""
