"""cases, steps, evidence links, text records; evidence in an open case cannot be deleted

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 16:35:53.273903
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_counters',
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('unit_id', 'year')
    )
    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=128), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'closed')", name='ck_cases_status'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_unit_id'), ['unit_id'], unique=False)

    op.create_table('case_parties',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id_number', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_parties_case_id'), ['case_id'], unique=False)

    op.create_table('case_steps',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('place', sa.Text(), nullable=True),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('ended_at', UTCDateTime(), nullable=False),
    sa.Column('officers', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_steps_case_id'), ['case_id'], unique=False)

    op.create_table('case_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('step_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('evidence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=True),
    sa.Column('end_s', sa.Float(), nullable=True),
    sa.Column('linked_at', UTCDateTime(), nullable=False),
    sa.Column('linked_by', sa.String(length=128), nullable=False),
    sa.Column('unlinked_at', UTCDateTime(), nullable=True),
    sa.Column('unlinked_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ),
    sa.ForeignKeyConstraint(['step_id'], ['case_steps.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_links_evidence_id'), ['evidence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_links_step_id'), ['step_id'], unique=False)

    op.create_table('text_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('step_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['step_id'], ['case_steps.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('text_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_text_records_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_text_records_step_id'), ['step_id'], unique=False)

    op.create_table('text_record_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mime', sa.String(length=128), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('store_key', sa.String(length=512), nullable=False),
    sa.Column('store_version', sa.String(length=1024), nullable=True),
    sa.Column('form', sa.Boolean(), nullable=False),
    sa.Column('manifest', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.CheckConstraint('length(sha256) = 64', name='ck_trv_sha256_len'),
    sa.ForeignKeyConstraint(['record_id'], ['text_records.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('record_id', 'version', name='uq_text_record_versions_record_version')
    )
    with op.batch_alter_table('text_record_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_text_record_versions_record_id'), ['record_id'], unique=False)

    _triggers()


OPEN_LINK = ("SELECT 1 FROM case_links l JOIN case_steps s ON s.id = l.step_id JOIN cases c ON c.id = s.case_id "
             "WHERE l.evidence_id = OLD.id AND l.unlinked_at IS NULL AND c.status = 'open'")


def _triggers() -> None:
    """Defence in depth, below the application: evidence linked to an open case cannot be deleted by
    anyone; text-record versions are append-only; cases, steps and links are never deleted (a link
    is ended, a case closed)."""
    bind = op.get_bind()
    keep = ("cases", "case_steps", "case_links", "text_records")
    if bind.dialect.name == "sqlite":
        op.execute("CREATE TRIGGER evidence_keep_in_open_case BEFORE DELETE ON evidence "
                   f"WHEN EXISTS ({OPEN_LINK}) "
                   "BEGIN SELECT RAISE(ABORT, 'evidence linked to an open case cannot be deleted'); END")
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER text_record_versions_no_{verb.lower()} BEFORE {verb} ON text_record_versions "
                       "BEGIN SELECT RAISE(ABORT, 'text_record_versions is append-only'); END")
        for table in keep:
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted'); END")
        return
    op.execute("CREATE OR REPLACE FUNCTION evidence_keep_in_open_case() RETURNS trigger LANGUAGE plpgsql AS $$ "
               f"BEGIN IF EXISTS ({OPEN_LINK}) THEN "
               "RAISE EXCEPTION 'evidence % is linked to an open case and cannot be deleted', OLD.id; "
               "END IF; RETURN OLD; END $$")
    op.execute("CREATE TRIGGER evidence_keep_in_open_case BEFORE DELETE ON evidence "
               "FOR EACH ROW EXECUTE FUNCTION evidence_keep_in_open_case()")
    op.execute("CREATE OR REPLACE FUNCTION text_record_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN RAISE EXCEPTION 'text_record_versions is append-only'; END $$")
    op.execute("CREATE TRIGGER text_record_versions_append_only BEFORE UPDATE OR DELETE ON text_record_versions "
               "FOR EACH ROW EXECUTE FUNCTION text_record_versions_append_only()")
    for table in keep:
        op.execute(f"CREATE OR REPLACE FUNCTION {table}_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION '{table} rows are never deleted'; END $$")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_no_delete()")


def downgrade() -> None:
    bind = op.get_bind()
    names = ["evidence_keep_in_open_case", "text_record_versions_no_update", "text_record_versions_no_delete",
             "text_record_versions_append_only"] + [f"{t}_no_delete" for t in ("cases", "case_steps", "case_links",
                                                                             "text_records")]
    tables = {"evidence_keep_in_open_case": "evidence", "text_record_versions_append_only": "text_record_versions",
              "text_record_versions_no_update": "text_record_versions",
              "text_record_versions_no_delete": "text_record_versions"}
    for name in names:
        table = tables.get(name, name.removesuffix("_no_delete"))
        if bind.dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    with op.batch_alter_table('text_record_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_text_record_versions_record_id'))

    op.drop_table('text_record_versions')
    with op.batch_alter_table('text_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_text_records_step_id'))
        batch_op.drop_index(batch_op.f('ix_text_records_case_id'))

    op.drop_table('text_records')
    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_links_step_id'))
        batch_op.drop_index(batch_op.f('ix_case_links_evidence_id'))

    op.drop_table('case_links')
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_steps_case_id'))

    op.drop_table('case_steps')
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_parties_case_id'))

    op.drop_table('case_parties')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_unit_id'))

    op.drop_table('cases')
    op.drop_table('case_counters')
