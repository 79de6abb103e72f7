"""Where a language model runs: the backend protocol and its implementations (an
OpenAI-compatible endpoint, a local Hugging Face model, llama.cpp), finding local weights, the
response cache, constrained decoding, the OpenAI-compatible server, and the one factory
(:mod:`lmrec.llm.runtime.config`) every command builds a backend with."""
