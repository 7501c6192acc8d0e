"""API keys, scopes and dashboard sessions: who is calling, and what they may do.

`from almanac.auth import Principal, require_scope, AdminOnly, CurrentPrincipal`; the
dependencies are loaded on first use, so importing the package stays cheap and acyclic.
"""

from typing import Any

from almanac.auth.principal import SCOPES, Principal, Scope, scope_allows

_FROM_DEPS = ("AdminOnly", "CurrentPrincipal", "MaybePrincipal", "authenticate", "require_scope")

__all__ = ["SCOPES", "Principal", "Scope", "scope_allows", *_FROM_DEPS]


def __getattr__(name: str) -> Any:
    if name in _FROM_DEPS:
        from almanac.auth import deps

        return getattr(deps, name)
    raise AttributeError(f"module 'almanac.auth' has no attribute {name!r}")
