"""exports: several recordings or a case exported as a job (one zip kept for a while under
<var>/exports/); a job may be about no evidence (an export job)

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.alter_column('evidence_id', existing_type=BigId, nullable=True)
    op.create_table('exports',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('user_id', BigId, sa.ForeignKey('users.id'), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('evidence_ids', sa.Text(), nullable=False),
    sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=True),
    sa.Column('proxies', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_id', BigId, sa.ForeignKey('jobs.id'), nullable=True),
    sa.Column('bytes_done', sa.BigInteger(), nullable=False),
    sa.Column('bytes_total', sa.BigInteger(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('payload_oxum', sa.String(length=64), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('expires_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'running', 'done', 'failed', 'expired')", name='ck_exports_state'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_exports_user', 'exports', ['user_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_exports_user', table_name='exports')
    op.drop_table('exports')
    op.execute("DELETE FROM jobs WHERE evidence_id IS NULL")
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.alter_column('evidence_id', existing_type=BigId, nullable=False)
