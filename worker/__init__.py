"""The Celery side of newsnlp. Importing this package loads no model and reads no settings."""
