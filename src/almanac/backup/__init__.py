"""Export, import, backup and restore of everything the user owns."""
