"""Notifications: confirmation, refund and failed-payment emails sent through the outbox."""
