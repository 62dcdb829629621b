"""accounts like a trusted system: case-folded user-name keys, disabled accounts, password resets,
login throttles (instead of the permanent lock)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 02:30:00
"""
import unicodedata

import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _key(name: str) -> str:
    # the same rule as auth.credentials.name_key, spelt out so that this migration never changes
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('disabled_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('password_changed_at', UTCDateTime(), nullable=True))
    conn = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('username', sa.String()),
                     sa.column('username_key', sa.String()))
    for uid, name in conn.execute(sa.select(users.c.id, users.c.username)).all():
        conn.execute(users.update().where(users.c.id == uid).values(username_key=_key(name)))
    # two existing names that differ only in case or width stop the upgrade here (unique key):
    # rename one of them first (UPDATE users SET username = ...)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('username_key', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_users_username_key', ['username_key'])

    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', UTCDateTime(), nullable=False),
    sa.Column('blocked_until', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('login_throttles')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_username_key', type_='unique')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('username_key')
