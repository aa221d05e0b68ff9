"""Check-in context: check-in lists, scans with exactly one admission per ticket and list, door devices, the
offline copy a scanner keeps, counts and attendee search.

``rules`` (pure: results, refusal order, the ``Scanner`` principal, code digests), ``lists`` (lists and each
event's default list), ``scan`` (scans), ``undo``, ``devices`` (door device tokens), ``attendees`` (who holds a
ticket, manual search), ``status`` (counts per ticket type, the offline copy). Depends on ``ticketing`` and
``events`` (reads their rows), ``accounts`` (a team member's scanner lives with their console session and
membership), ``notifications.codes`` (reading ticket codes, pure) and ``outbox``.
"""
