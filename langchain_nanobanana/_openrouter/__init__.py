"""The wire: OpenRouter's shapes, its two endpoints (chat completions and the Image API),
the one assembler of answers, error mapping, finish reasons, options and model discovery.

Pure code on plain data: nothing here sends a request (that is ``_transport``)."""
