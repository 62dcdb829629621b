"""custody log as a transparency log: Merkle tree nodes, checkpoint notes, anchorings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 02:30:00.000000

Events written before this revision are added to the tree by the application on the next append
or checkpoint (``tree_size`` starts at 0); their old JSON checkpoints stay as they were signed.
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

APPEND_ONLY = ("custody_tree", "custody_anchorings")


def upgrade() -> None:
    op.add_column('custody_head', sa.Column('tree_size', sa.BigInteger(), nullable=False, server_default='0'))
    op.add_column('custody_head', sa.Column('tree_frontier', sa.Text(), nullable=False, server_default=''))
    op.add_column('custody_checkpoints', sa.Column('root_hash', sa.String(length=64), nullable=True))
    op.add_column('custody_checkpoints', sa.Column('note', sa.Text(), nullable=True))
    op.create_table('custody_tree',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx')
    )
    op.create_table('custody_anchorings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('checkpoint_seq', sa.BigInteger(), nullable=False),
    sa.Column('anchor', sa.String(length=512), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('receipt', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('custody_anchorings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_anchorings_checkpoint_seq'), ['checkpoint_seq'], unique=False)

    # append-only, like the events and checkpoints (migration 0001)
    bind = op.get_bind()
    for table in APPEND_ONLY:
        if bind.dialect.name == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        else:
            op.execute(f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$")
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table in APPEND_ONLY:
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only() CASCADE")
    with op.batch_alter_table('custody_anchorings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_anchorings_checkpoint_seq'))
    op.drop_table('custody_anchorings')
    op.drop_table('custody_tree')
    op.drop_column('custody_checkpoints', 'note')
    op.drop_column('custody_checkpoints', 'root_hash')
    op.drop_column('custody_head', 'tree_frontier')
    op.drop_column('custody_head', 'tree_size')
