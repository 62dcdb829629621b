"""Publication (行政执法公示): decision notices drafted when a decision is recorded, personal data kept
out by construction, published on time, withdrawn on the record; a public site that sees only them."""
