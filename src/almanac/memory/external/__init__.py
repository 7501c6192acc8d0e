"""External memory providers (Zep Cloud): a second store beside Postgres, never required."""
