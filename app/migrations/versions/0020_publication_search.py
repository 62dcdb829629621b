"""publication: the public site's search by organisation or document number, indexed on PostgreSQL

The public search (``publication.service.public_notices``) is a substring match (``LIKE '%q%'``) on
the party and the document number of the published and withdrawn notices. On PostgreSQL the column
``search_grams`` (stored, generated: every distinct two-character piece, bigram, of those two fields)
and a GIN index on it find the notices that hold every bigram of the query, which the ``LIKE`` then
checks. It works for Chinese under any locale and needs no extension (``pg_trgm`` skips characters
its locale does not call letters — all of Chinese under ``C`` — and finds nothing in a two-character
query). The bigrams are stored, not an index expression, so that a plan that does not read the index
(a common word, read in date order) compares arrays instead of cutting every row again, and the
planner has the column's statistics (those of a partial expression index it ignores). A
one-character query is not indexed. SQLite has neither; its search is the ``LIKE`` alone, as before.

Revision ID: 0020
Revises: 0019
"""
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# the distinct bigrams of the two fields, each field on its own (none across them); case kept, as LIKE
# on PostgreSQL keeps it. publication.service.grams() makes the query's the same way.
GRAMS = """CREATE OR REPLACE FUNCTION publication_grams(party text, doc_number text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
    SELECT substr(party, i, 2) AS g FROM generate_series(1, char_length(party) - 1) AS i
    UNION ALL
    SELECT substr(doc_number, i, 2) FROM generate_series(1, char_length(doc_number) - 1) AS i) AS s
$$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(GRAMS)
    op.execute("ALTER TABLE publication_notices ADD COLUMN search_grams text[] "
               "GENERATED ALWAYS AS (publication_grams(party, doc_number)) STORED")
    op.execute("CREATE INDEX ix_publication_search ON publication_notices USING gin (search_grams)")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP INDEX IF EXISTS ix_publication_search")
    op.execute("ALTER TABLE publication_notices DROP COLUMN IF EXISTS search_grams")
    op.execute("DROP FUNCTION IF EXISTS publication_grams(text, text)")
