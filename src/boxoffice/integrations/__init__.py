"""Integrations: signed outgoing webhooks to the platform around Boxoffice.

Organizers register endpoints (``endpoints.py``); domain events from the outbox become webhook events and one
delivery per subscribed endpoint (``fanout.py``, an outbox handler); the sender (``sender.py``) claims them and
POSTs each signed (``attempts.py``, ``signing.py``) over a client that only reaches public addresses
(``addresses.py``, ``network.py``), retries with backoff, keeps each order's events in sequence, and disables an
endpoint after a day of failures, emailing its owners (``notices.py``). ``deliveries.py`` is the delivery log and
manual redelivery; ``catalog.py`` the event types and payloads; ``verify.py`` the verification function integrators
copy (the README shows it).
"""
