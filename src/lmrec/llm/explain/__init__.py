"""Explanations and user profiles: attribute and text-similarity reasons, and reasons written
by a language model, grounded in the user's history."""
