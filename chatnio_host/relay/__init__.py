"""Relay concept."""
