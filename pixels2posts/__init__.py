"""pixels2posts: fashion photos to grounded captions and hashtags."""

__version__ = "0.1.0"
