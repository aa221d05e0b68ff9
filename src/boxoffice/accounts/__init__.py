"""Accounts: organizer API keys."""
