"""privacy: one-time download links; parties' personal data sealed

Parties' name, id_number, phone and address become binary (nonce || AES-GCM ciphertext) with
``sealed_with``, the id of the data key that sealed them. This migration seals nothing itself: a
migration imports no live code and knows no config, and the key lives in ``[archive] data_key_path``.
The rows it leaves with ``sealed_with`` NULL (their clear text, as bytes on PostgreSQL) are sealed by
``app.runtime.open_archive`` right after the upgrade, in one transaction (``cases.service.seal_parties``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 02:45:00
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('download_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('what', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint('length(token_sha256) = 64', name='ck_download_links_sha256_len'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('download_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_download_links_user_id'), ['user_id'], unique=False)

    op.add_column('case_parties', sa.Column('sealed_with', sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        for column in ('name', 'id_number', 'phone', 'address'):
            op.execute(f"ALTER TABLE case_parties ALTER COLUMN {column} TYPE BYTEA "
                       f"USING convert_to({column}, 'UTF8')")
    # (SQLite: a column's declared type does not bind what it holds; sealed values are stored as BLOBs,
    # and rebuilding the table would drop the no-delete trigger of migration 0005)


def downgrade() -> None:
    # (sealed values stay sealed: open them with the data key before downgrading, if ever)
    op.execute("ALTER TABLE case_parties DROP COLUMN sealed_with")  # (no table rebuild: 0005's trigger stays)
    with op.batch_alter_table('download_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_download_links_user_id'))
    op.drop_table('download_links')
