"""Request and response bodies. Requests forbid unknown fields, so no body can smuggle in a
field the route does not expect (``role`` in a registration, say)."""
