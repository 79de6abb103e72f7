"""Ranking with a language model: prompts, reply parsing, candidate generation, likelihood
scoring and the ranker itself."""
