"""Pure NLP and domain logic of newsnlp: no web framework, queue or environment access here."""
