"""The context block: one prompt-ready text from memory and the agenda (above both)."""
