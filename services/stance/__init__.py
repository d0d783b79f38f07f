"""Stance detection: the protocol, similarity baseline, trained model, cross-encoder, NLI."""
