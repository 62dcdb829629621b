"""continuous fixity: where the audit stands for each stored object

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fixity_state',
    sa.Column('store_key', sa.String(length=512), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('evidence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_checked_at', UTCDateTime(), nullable=True),
    sa.Column('last_outcome', sa.String(length=16), nullable=True),
    sa.Column('last_detail', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', UTCDateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('original', 'derived')", name='ck_fixity_state_kind'),
    sa.PrimaryKeyConstraint('store_key')
    )
    with op.batch_alter_table('fixity_state', schema=None) as batch_op:
        batch_op.create_index('ix_fixity_state_due', ['last_checked_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fixity_state', schema=None) as batch_op:
        batch_op.drop_index('ix_fixity_state_due')
    op.drop_table('fixity_state')
