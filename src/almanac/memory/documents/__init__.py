"""Documents: upload, text extraction, chunking that follows headings, and recall with citations."""
