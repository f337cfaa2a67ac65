"""What the image tool needs beyond the chat model: its ledger and budgets, the answer
the agent reads, failures turned into messages, progress events, the quiet trace,
and the photos users attach."""
