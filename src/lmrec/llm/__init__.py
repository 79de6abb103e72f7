"""LLM-based ranking: backends, prompts, parsing, candidate generation, explanations."""
