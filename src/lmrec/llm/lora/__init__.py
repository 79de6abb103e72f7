"""LoRA-tuned local language models as recommenders (TALLRec's binary preference, LlamaRec's
lettered re-ranking), trained with the ``peft`` library."""
