"""Model training and evaluation: stance (FNC-1 and claims data) and summaries (CNN/DM ROUGE)."""
