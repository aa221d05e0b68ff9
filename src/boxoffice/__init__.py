"""Boxoffice: event ticketing."""
