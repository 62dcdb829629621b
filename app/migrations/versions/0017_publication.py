"""publication: decision notices (行政执法公示), drafted when a decision is recorded

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publication_notices',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('public_no', sa.String(length=32), nullable=False),
    sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=False),
    sa.Column('unit_id', BigId, sa.ForeignKey('units.id'), nullable=False),
    sa.Column('record_id', BigId, sa.ForeignKey('text_records.id'), nullable=False),
    sa.Column('record_version', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('decision_kind', sa.String(length=64), nullable=True),
    sa.Column('doc_number', sa.Text(), nullable=False),
    sa.Column('party', sa.Text(), nullable=False),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('decision', sa.Text(), nullable=False),
    sa.Column('agency', sa.Text(), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('masks', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('published_at', UTCDateTime(), nullable=True),
    sa.Column('published_by', sa.String(length=128), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('html_sha256', sa.String(length=64), nullable=True),
    sa.Column('withdrawn_at', UTCDateTime(), nullable=True),
    sa.Column('withdrawn_by', sa.String(length=128), nullable=True),
    sa.Column('withdraw_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('draft', 'published', 'withdrawn', 'superseded')", name='ck_publication_state'),
    sa.CheckConstraint("(state IN ('published', 'withdrawn')) = (published_at IS NOT NULL)",
                       name='ck_publication_published'),
    sa.CheckConstraint("(state = 'withdrawn') = (withdrawn_at IS NOT NULL)", name='ck_publication_withdrawn'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_no'),
    )
    op.create_index('ix_publication_notices_case_id', 'publication_notices', ['case_id'])
    op.create_index('ix_publication_notices_record_id', 'publication_notices', ['record_id'])
    op.create_index('ix_publication_unit_state', 'publication_notices', ['unit_id', 'state'])
    # the public list: newest published first
    op.create_index('ix_publication_published', 'publication_notices', ['published_at', 'id'])


def downgrade() -> None:
    op.drop_table('publication_notices')
