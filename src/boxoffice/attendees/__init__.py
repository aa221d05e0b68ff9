"""Attendees context: who holds each ticket, the organizer's questions and the buyers' answers.

``rules`` is pure (the questions' definitions and the answers, checked with field errors; no I/O), ``questions``
creates, reads, changes and deletes an event's questions and its attendee settings, ``details`` stores and reads the
attendees and answers of orders (in the caller's transaction). The order-facing flows built on them (the reservation,
ticket issue, self-service changes and transfers, the attendee list for exports) live in ``ticketing``.
"""
