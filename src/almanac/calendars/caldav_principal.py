"""What a CalDAV provider asks of the user's principal (RFC 4791, RFC 6638): the calendar
named in the settings, found under its calendar-home-set, and the user's addresses, its
calendar-user-address-set. Runs in the provider's worker thread."""

from __future__ import annotations

from typing import Any

import icalendar

from almanac.calendars.vevent import address, decliners

# The principal's addresses per (server URL, login), read once per process.
_ADDRESSES: dict[tuple[str, str], frozenset[str]] = {}


class PrincipalLookups:
    """The calendar collection and the user's addresses, each resolved once per provider."""

    url: str
    calendar_ref: str
    _client: Any
    _calendar: Any
    _username: str | None
    _configured: frozenset[str]
    _owner: frozenset[str] | None

    def _get_calendar(self) -> Any:
        """Resolve (once) the configured calendar collection: a URL as it is, a name among
        the calendars of the principal's calendar-home-set."""
        if self._calendar is None:
            ref = self.calendar_ref
            if ref.startswith(("http://", "https://")):
                cal = self._client.calendar(url=ref)
                cal.get_display_name()  # fails early if the URL is wrong or unreachable
            else:
                cal = self._client.principal().calendar(name=ref)
            self._calendar = cal
        return self._calendar

    def _owner_of(self, comp: icalendar.Component) -> frozenset[str]:
        """The user's addresses when `comp` has a declined attendee (else none are needed):
        the configured ones, a login that is an email address and the principal's mailto:
        addresses, read once per server and user (RFC 6638; a server that does not say
        leaves the others)."""
        if not decliners(comp):
            return frozenset()
        if self._owner is None:
            key = (self.url, self._username or "")
            found = _ADDRESSES.get(key)
            if found is None:
                found = self._addresses()
                if found is not None:  # a failed lookup is asked again by the next read
                    _ADDRESSES[key] = found
            login = self._username
            self._owner = (
                (found or frozenset())
                | self._configured
                | ({address(login)} if login and "@" in login else set())
            )
        return self._owner

    def _addresses(self) -> frozenset[str] | None:
        """The principal's mailto: addresses; None when the lookup failed."""
        from caldav.lib import error as caldav_error

        try:
            found = self._client.principal().calendar_user_address_set()
        except caldav_error.NotFoundError:
            return frozenset()  # an optional property the server does not keep
        except (caldav_error.DAVError, OSError, ValueError, LookupError, AttributeError):
            # Its absence must not stop reading the calendar.
            return None
        return frozenset(address(a) for a in found if a and str(a).lower().startswith("mailto:"))
