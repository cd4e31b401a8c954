"""Migration revisions; released ones are never edited."""
