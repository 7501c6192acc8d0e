"""Calendar providers: read busy time, write Almanac's planned blocks (only its own events).

The interface and the planning of changes live in `calendars.base`, one module per
provider beside it; the CalDAV/iCalendar code is imported only where it is used.
"""
