"""evidence.attribution_review: why a recording's attribution waits for review (an officer or recorder
assignment of a unit outside the offloading station's unit tree); NULL when nothing is in question

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-26 02:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('evidence', sa.Column('attribution_review', sa.Text(), nullable=True))  # no table rebuild


def downgrade() -> None:
    # plain ALTER TABLE (SQLite >= 3.35 and PostgreSQL): no table rebuild, the evidence triggers stay
    op.execute("ALTER TABLE evidence DROP COLUMN attribution_review")
