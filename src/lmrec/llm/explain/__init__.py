"""Explanations and user profiles from the model's own evidence (which history items drive its
score) and the user's attributes, in deterministic sentences a language model may only rewrite."""
