"""redaction: plans of what to hide in a recording, their versions and approvals, the redacted
copies rendered from them and their releases; nothing deleted, and versions, approvals and releases
never changed (triggers)

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

KEPT = ("redaction_plans", "redaction_versions", "redaction_approvals", "redaction_renders", "redaction_detections",
        "redaction_releases")
FROZEN = ("redaction_versions", "redaction_approvals", "redaction_releases")


def upgrade() -> None:
    op.create_table('redaction_plans',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('evidence_id', BigId, sa.ForeignKey('evidence.id'), nullable=False),
    sa.Column('original_sha256', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_redaction_plans_evidence_id', 'redaction_plans', ['evidence_id'])
    op.create_table('redaction_versions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('plan_id', BigId, sa.ForeignKey('redaction_plans.id'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('made_by', sa.String(length=128), nullable=False),
    sa.Column('made_at', UTCDateTime(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.CheckConstraint('version >= 1', name='ck_redaction_versions_version'),
    sa.UniqueConstraint('plan_id', 'version', name='uq_redaction_versions_plan_version'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_redaction_versions_plan_id', 'redaction_versions', ['plan_id'])
    op.create_table('redaction_approvals',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('plan_id', BigId, sa.ForeignKey('redaction_plans.id'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('approved_by', sa.String(length=128), nullable=False),
    sa.Column('approved_at', UTCDateTime(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.UniqueConstraint('plan_id', 'version', name='uq_redaction_approvals_plan_version'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_redaction_approvals_plan_id', 'redaction_approvals', ['plan_id'])
    op.create_table('redaction_renders',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('plan_id', BigId, sa.ForeignKey('redaction_plans.id'), nullable=False),
    sa.Column('evidence_id', BigId, sa.ForeignKey('evidence.id'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('plan_sha256', sa.String(length=64), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('job_id', BigId, sa.ForeignKey('jobs.id'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('asked_by', sa.String(length=128), nullable=False),
    sa.Column('asked_at', UTCDateTime(), nullable=False),
    sa.Column('encoder', sa.String(length=32), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('store_key', sa.String(length=512), nullable=True),
    sa.Column('store_version', sa.String(length=1024), nullable=True),
    sa.Column('log_sha256', sa.String(length=64), nullable=True),
    sa.Column('log_size', sa.BigInteger(), nullable=True),
    sa.Column('log_store_key', sa.String(length=512), nullable=True),
    sa.Column('log_store_version', sa.String(length=1024), nullable=True),
    sa.Column('commands', sa.Text(), nullable=True),
    sa.Column('tool_versions', sa.Text(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'running', 'done', 'failed')", name='ck_redaction_renders_state'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_redaction_renders_plan', 'redaction_renders', ['plan_id', 'version'])
    op.create_index('ix_redaction_renders_evidence_id', 'redaction_renders', ['evidence_id'])
    op.create_table('redaction_detections',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('plan_id', BigId, sa.ForeignKey('redaction_plans.id'), nullable=False),
    sa.Column('job_id', BigId, sa.ForeignKey('jobs.id'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('asked_by', sa.String(length=128), nullable=False),
    sa.Column('asked_at', UTCDateTime(), nullable=False),
    sa.Column('result_version', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'running', 'done', 'failed')", name='ck_redaction_detections_state'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_redaction_detections_plan_id', 'redaction_detections', ['plan_id'])
    op.create_table('redaction_releases',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('what', sa.String(length=16), nullable=False),
    sa.Column('render_ids', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('released_by', sa.String(length=128), nullable=False),
    sa.Column('released_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("what IN ('download', 'bag')", name='ck_redaction_releases_what'),
    sa.PrimaryKeyConstraint('id'),
    )
    _triggers()


def _triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in KEPT:
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted'); END")
        for table in FROZEN:
            op.execute(f"CREATE TRIGGER {table}_frozen BEFORE UPDATE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} rows never change'); END")
        return
    for table in KEPT:
        op.execute(f"CREATE OR REPLACE FUNCTION {table}_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION '{table} rows are never deleted'; END $$")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_no_delete()")
    for table in FROZEN:
        op.execute(f"CREATE OR REPLACE FUNCTION {table}_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION '{table} rows never change'; END $$")
        op.execute(f"CREATE TRIGGER {table}_frozen BEFORE UPDATE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_frozen()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table in (*((f"{t}_no_delete", t) for t in KEPT), *((f"{t}_frozen", t) for t in FROZEN)):
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table('redaction_releases')
    op.drop_index('ix_redaction_detections_plan_id', table_name='redaction_detections')
    op.drop_table('redaction_detections')
    op.drop_index('ix_redaction_renders_evidence_id', table_name='redaction_renders')
    op.drop_index('ix_redaction_renders_plan', table_name='redaction_renders')
    op.drop_table('redaction_renders')
    op.drop_index('ix_redaction_approvals_plan_id', table_name='redaction_approvals')
    op.drop_table('redaction_approvals')
    op.drop_index('ix_redaction_versions_plan_id', table_name='redaction_versions')
    op.drop_table('redaction_versions')
    op.drop_index('ix_redaction_plans_evidence_id', table_name='redaction_plans')
    op.drop_table('redaction_plans')
