"""text redaction: confirmed maskings of text record versions (文书脱敏), bound to the custody log

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('text_redactions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('record_id', BigId, sa.ForeignKey('text_records.id'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('version_sha256', sa.String(length=64), nullable=False),
    sa.Column('masks', sa.Text(), nullable=False),
    sa.Column('dropped', sa.Text(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('detector', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('length(version_sha256) = 64', name='ck_text_redactions_version_sha256'),
    sa.CheckConstraint('length(content_sha256) = 64', name='ck_text_redactions_content_sha256'),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_text_redactions_record_id', 'text_redactions', ['record_id'])


def downgrade() -> None:
    op.drop_index('ix_text_redactions_record_id', table_name='text_redactions')
    op.drop_table('text_redactions')
