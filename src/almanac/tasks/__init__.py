"""Tasks as first-class objects: list, read, edit, record time, mark done."""
