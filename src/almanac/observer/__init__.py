"""The Observer: reflections on days and weeks, workflow patterns, facts from experience."""
