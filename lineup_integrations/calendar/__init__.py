"""What Google Calendar and Outlook Calendar share: times, the Lineup event model, busy blocks.

Both calendar provider packages import this layer; it imports neither of them, nor Dagster.
"""
