"""Reading articles in: files, web pages, feeds and sitemaps, and the ingest pipeline."""
