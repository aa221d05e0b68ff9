"""Accounts: organizers' API keys (``service``), console users and their teams (``users``, ``team``), roles
(``roles``, pure), sessions (``sessions``), failed sign-in throttling (``throttle``) and password hashing
(``passwords``)."""
