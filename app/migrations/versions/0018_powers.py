"""publication: powers and procedures documents (权责清单 / 执法流程, 事前公示), versioned per unit

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publication_powers',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', BigId, sa.ForeignKey('units.id'), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('mime', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', UTCDateTime(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=128), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.CheckConstraint('version >= 1', name='ck_publication_powers_version'),
    sa.CheckConstraint('size > 0', name='ck_publication_powers_size'),
    sa.CheckConstraint('length(sha256) = 64', name='ck_publication_powers_sha256'),
    sa.CheckConstraint("mime IN ('application/pdf', 'text/plain', 'text/markdown')",
                       name='ck_publication_powers_mime'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id'),
    sa.UniqueConstraint('unit_id', 'title', 'version', name='uq_publication_powers_version'),
    )
    op.create_index('ix_publication_powers_unit_title', 'publication_powers', ['unit_id', 'title'])


def downgrade() -> None:
    op.drop_table('publication_powers')
