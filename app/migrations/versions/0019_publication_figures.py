"""publication: approved annual figures (年度行政执法数据), one frozen snapshot per approval

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publication_figures',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('unit_id', BigId, sa.ForeignKey('units.id'), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('approved_by', sa.String(length=128), nullable=False),
    sa.Column('approved_at', UTCDateTime(), nullable=False),
    sa.Column('supersedes_id', BigId, sa.ForeignKey('publication_figures.id'), nullable=True),
    sa.CheckConstraint('length(sha256) = 64', name='ck_publication_figures_sha256'),
    sa.CheckConstraint('year BETWEEN 1 AND 9999', name='ck_publication_figures_year'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_publication_figures_unit_year', 'publication_figures', ['unit_id', 'year', 'id'])


def downgrade() -> None:
    op.drop_table('publication_figures')
