"""Building a corpus: plan clips, split by source, render audio, generate records, write files."""
