"""Billing concept."""
