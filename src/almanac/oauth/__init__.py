"""OAuth web flow for remote calendars (Google): consent, callback, encrypted token storage."""
