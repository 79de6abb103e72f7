"""Training of torch recommenders: configuration, batches and the trainer (kept apart from models)."""
