"""The language stage: grounded captions and hashtags from an evidence pack through an OpenAI-compatible LLM."""
