"""Helpers for tests and fault injection: a scripted OpenAI-compatible server."""
