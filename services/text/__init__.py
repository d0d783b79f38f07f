"""Text: cleaning scraped articles, HTML extraction, sentence splitting, language."""
