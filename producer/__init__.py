"""What a shop backend uses: the HTTP API, the Python SDK, job submission."""
