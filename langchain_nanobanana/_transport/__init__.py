"""HTTP to OpenRouter: connection facts, pooled clients, SSE, the limits of one call,
the exchange of one request with one endpoint, the call plan and its fan-out."""
