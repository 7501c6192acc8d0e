"""LLM clients: chat messages in, JSON validated against a pydantic schema out.

The interface is `llm.base`; `llm.factory` chooses the client from the settings and loads
the OpenAI SDK (`llm.openai_compat`) only when that provider is configured.
"""
