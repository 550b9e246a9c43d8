"""Memory: Claude Code sessions imported, deduplicated, redacted, stored and searched.

    transcripts  where transcripts are; reading JSONL lines; the /export text format
    dedup        message keys, merging the records of one response, token usage once
    privacy      redaction before anything is stored
    ingest       the import: streaming, incremental, tolerant
    store        the SQLite database (WAL, FTS5) at .coditect/memory.db
    migrations   its schema, as named migrations
    search       full-text search, the session list, one conversation
    stats        counts, tokens and cost, redactions

Nothing is imported here, so ``coditect --help`` stays fast; import the modules.
"""
