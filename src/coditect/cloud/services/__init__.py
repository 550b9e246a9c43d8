"""Business logic. A service takes a ``Session``, ``flush()``es and never commits; it raises
``coditect.cloud.errors.DomainError`` subclasses. Routes and CLI commands own the transaction."""
