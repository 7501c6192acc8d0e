"""API keys, scopes and dashboard sessions: who is calling, and what they may do."""

from almanac.auth.principal import SCOPES, Principal, Scope, scope_allows

__all__ = ["SCOPES", "Principal", "Scope", "scope_allows"]
