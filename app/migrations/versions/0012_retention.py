"""retention: computed keep-until per evidence, legal holds, disposals with approvals, and the
triggers that refuse destroying held evidence or evidence of an open case

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ACTIVE = "state IN ('pending', 'destroying', 'destroyed')"


def upgrade() -> None:
    op.create_table('evidence_retention',
    sa.Column('evidence_id', BigId, sa.ForeignKey('evidence.id'), nullable=False),
    sa.Column('class_name', sa.String(length=64), nullable=True),
    sa.Column('keep', sa.String(length=16), nullable=False),
    sa.Column('retain_until', UTCDateTime(), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('computed_at', UTCDateTime(), nullable=False),
    sa.Column('lock_until', UTCDateTime(), nullable=True),
    sa.Column('lock_hold', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.CheckConstraint("keep IN ('until', 'open_case', 'held', 'permanent')", name='ck_evidence_retention_keep'),
    sa.PrimaryKeyConstraint('evidence_id'),
    )
    op.create_index('ix_evidence_retention_due', 'evidence_retention', ['keep', 'retain_until'])
    op.create_table('retention_changes',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('evidence_id', BigId, sa.ForeignKey('evidence.id'), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('old', sa.String(length=64), nullable=True),
    sa.Column('new', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_retention_changes_evidence_id', 'retention_changes', ['evidence_id'])
    op.create_table('legal_holds',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('unit_id', BigId, sa.ForeignKey('units.id'), nullable=True),
    sa.Column('scope_kind', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('placed_by', sa.String(length=128), nullable=False),
    sa.Column('placed_at', UTCDateTime(), nullable=False),
    sa.Column('released_at', UTCDateTime(), nullable=True),
    sa.Column('released_by', sa.String(length=128), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("scope_kind IN ('evidence', 'case', 'officer', 'search')", name='ck_legal_holds_scope'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_legal_holds_unit_id', 'legal_holds', ['unit_id'])
    op.create_table('hold_items',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('hold_id', BigId, sa.ForeignKey('legal_holds.id'), nullable=False),
    sa.Column('evidence_id', BigId, sa.ForeignKey('evidence.id'), nullable=False),
    sa.Column('added_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hold_id', 'evidence_id', name='uq_hold_items_hold_evidence'),
    )
    op.create_index('ix_hold_items_hold_id', 'hold_items', ['hold_id'])
    op.create_index('ix_hold_items_evidence_id', 'hold_items', ['evidence_id'])
    op.create_table('disposals',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('evidence_id', BigId, sa.ForeignKey('evidence.id'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('scheduled_at', UTCDateTime(), nullable=False),
    sa.Column('scheduled_by', sa.String(length=128), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('restored_at', UTCDateTime(), nullable=True),
    sa.Column('restored_by', sa.String(length=128), nullable=True),
    sa.Column('restore_reason', sa.Text(), nullable=True),
    sa.Column('destroy_started_at', UTCDateTime(), nullable=True),
    sa.Column('destroyed_at', UTCDateTime(), nullable=True),
    sa.Column('destroyed_keys', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'restored', 'destroying', 'destroyed')", name='ck_disposals_state'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_disposals_evidence_id', 'disposals', ['evidence_id'])
    op.create_index('ix_disposals_state_due', 'disposals', ['state', 'due_at'])
    op.create_index('uq_disposals_active', 'disposals', ['evidence_id'], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_table('disposal_approvals',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('disposal_id', BigId, sa.ForeignKey('disposals.id'), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('disposal_id', 'actor', name='uq_disposal_approvals_actor'),
    )
    op.create_index('ix_disposal_approvals_disposal_id', 'disposal_approvals', ['disposal_id'])
    _triggers()


# evidence whose bytes no one may destroy: under a hold not released, or linked (now or before) to a case still open
HELD = ("SELECT 1 FROM hold_items hi JOIN legal_holds h ON h.id = hi.hold_id "
        "WHERE hi.evidence_id = NEW.evidence_id AND h.released_at IS NULL")
OPEN_CASE = ("SELECT 1 FROM case_links l JOIN case_steps s ON s.id = l.step_id JOIN cases c ON c.id = s.case_id "
             "WHERE l.evidence_id = NEW.evidence_id AND c.status = 'open'")
KEEP = ("legal_holds", "hold_items", "disposals", "disposal_approvals", "retention_changes")
REFUSAL = "its bytes may not be destroyed: it is under a legal hold or linked to an open case"
ORDER = "a destruction starts from a pending disposal and passes through destroying"


def _triggers() -> None:
    """Defence in depth, below the application: a disposal enters ``destroying`` (the state in which
    bytes are removed, committed before any is) only from ``pending``, and never for evidence that is
    held or linked to an open case; ``destroyed`` only from ``destroying`` (whatever was linked or held
    since: the bytes are gone, the record must be able to say so); a destruction under way or done never
    goes back; retention records are never deleted."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE TRIGGER disposals_refuse_insert BEFORE INSERT ON disposals "
                   "WHEN NEW.state IN ('destroying', 'destroyed') "
                   f"BEGIN SELECT RAISE(ABORT, '{ORDER}'); END")
        op.execute("CREATE TRIGGER disposals_refuse_update BEFORE UPDATE OF state ON disposals "
                   "WHEN NEW.state = 'destroying' AND OLD.state <> 'destroying' "
                   f"AND (EXISTS ({HELD}) OR EXISTS ({OPEN_CASE})) "
                   f"BEGIN SELECT RAISE(ABORT, 'evidence {REFUSAL}'); END")
        op.execute("CREATE TRIGGER disposals_refuse_order BEFORE UPDATE OF state ON disposals "
                   "WHEN (NEW.state = 'destroying' AND OLD.state NOT IN ('pending', 'destroying')) "
                   "OR (NEW.state = 'destroyed' AND OLD.state NOT IN ('destroying', 'destroyed')) "
                   f"BEGIN SELECT RAISE(ABORT, '{ORDER}'); END")
        op.execute("CREATE TRIGGER disposals_no_undo BEFORE UPDATE OF state ON disposals "
                   "WHEN OLD.state IN ('destroying', 'destroyed') AND NEW.state NOT IN ('destroying', 'destroyed') "
                   "BEGIN SELECT RAISE(ABORT, 'a destruction under way or done is never undone'); END")
        for table in KEEP:
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted'); END")
        return
    op.execute("CREATE OR REPLACE FUNCTION disposals_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "IF TG_OP = 'INSERT' THEN "
               f"IF NEW.state IN ('destroying', 'destroyed') THEN RAISE EXCEPTION '{ORDER}'; END IF; RETURN NEW; "
               "END IF; "
               "IF OLD.state IN ('destroying', 'destroyed') AND NEW.state NOT IN ('destroying', 'destroyed') THEN "
               "RAISE EXCEPTION 'a destruction under way or done is never undone'; END IF; "
               "IF (NEW.state = 'destroying' AND OLD.state NOT IN ('pending', 'destroying')) "
               "OR (NEW.state = 'destroyed' AND OLD.state NOT IN ('destroying', 'destroyed')) THEN "
               f"RAISE EXCEPTION '{ORDER}'; END IF; "
               f"IF NEW.state = 'destroying' AND OLD.state <> 'destroying' AND (EXISTS ({HELD}) OR EXISTS ({OPEN_CASE})) "
               f"THEN RAISE EXCEPTION 'evidence % {REFUSAL}', NEW.evidence_id; END IF; RETURN NEW; END $$")
    op.execute("CREATE TRIGGER disposals_refuse BEFORE INSERT OR UPDATE OF state ON disposals "
               "FOR EACH ROW EXECUTE FUNCTION disposals_refuse()")
    for table in KEEP:
        op.execute(f"CREATE OR REPLACE FUNCTION {table}_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION '{table} rows are never deleted'; END $$")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_no_delete()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("disposals_refuse_insert", "disposals_refuse_update", "disposals_refuse_order", "disposals_no_undo",
                     *(f"{t}_no_delete" for t in KEEP)):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS disposals_refuse ON disposals")
        op.execute("DROP FUNCTION IF EXISTS disposals_refuse()")
        for t in KEEP:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_delete ON {t}")
            op.execute(f"DROP FUNCTION IF EXISTS {t}_no_delete()")
    for t in ("disposal_approvals", "disposals", "hold_items", "legal_holds", "retention_changes",
              "evidence_retention"):
        op.drop_table(t)
