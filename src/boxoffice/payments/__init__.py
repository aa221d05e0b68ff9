"""Payments context: Stripe keys, Checkout Sessions, webhooks and refunds."""
