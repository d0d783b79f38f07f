"""The job record and queue contract shared by the API and the worker (no NLP, no web here)."""
