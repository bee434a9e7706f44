"""Channels concept."""
