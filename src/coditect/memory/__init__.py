"""Memory: Claude Code sessions imported, deduplicated, redacted, stored and searched.

    transcripts  where transcripts are; reading JSONL lines; the /export text format
    dedup        message keys, merging the records of one response, token usage once
    privacy      redaction before anything is stored
    ingest       the import: streaming, incremental, tolerant
    store        the SQLite database (WAL, FTS5) at .coditect/memory.db
    migrations   its schema, as named migrations
    search       full-text search, the session list, one conversation
    stats        counts, tokens and cost, redactions
    patterns     commands, files, errors and fixes, decisions, workflows (extract,
                 pattern_derive, pattern_schema: the rules, the derived rows, 0002)
    context      token-budgeted context bundles for agents
    costs        tokens and cost per task
    checkpoints  git, task and memory state at a moment; diff; restore (checkpoint_git,
                 checkpoint_markdown)

Nothing is imported here, so ``coditect --help`` stays fast; import the modules.
"""
