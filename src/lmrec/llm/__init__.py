"""Language models in lmrec, by role: ``runtime`` (where a model runs), ``ranking`` (prompts,
parsing, candidates, the ranker), ``explain`` (reasons and profiles) and ``lora`` (LoRA tuning)."""
