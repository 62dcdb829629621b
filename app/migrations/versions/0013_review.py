"""review: legal review of major decisions (rounds, answers, marks, decisions, notices), officers'
enforcement certificates, the reviewer's qualification, and the triggers that refuse a decision on a
major case without a passing review of that decision

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

OUTCOMES = "'同意', '变更', '纠正', '补充材料', '移送司法机关', '不同意'"
PASSING = "'同意', '变更'"
KEPT = ("review_rounds", "review_answers", "review_marks", "review_decisions", "review_cases", "officer_certificates")
REFUSED = "a decision on a major case needs a passing legal review of that decision (法制审核)"


def upgrade() -> None:
    op.create_table('officer_certificates',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('officer_id', BigId, sa.ForeignKey('officers.id'), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('area', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number', name='uq_officer_certificates_number'),
    )
    op.create_index('ix_officer_certificates_officer_id', 'officer_certificates', ['officer_id'])
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('legal_qualification', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.add_column(sa.Column('officer_no', sa.String(length=128), nullable=True))
    op.create_table('review_cases',
    sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=False),
    sa.Column('major', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('case_id'),
    )
    op.create_table('review_marks',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=False),
    sa.Column('major', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('marked_by', sa.String(length=128), nullable=False),
    sa.Column('marked_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_marks_case_id', 'review_marks', ['case_id'])
    op.create_table('review_rounds',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=False),
    sa.Column('round_no', sa.Integer(), nullable=False),
    sa.Column('unit_id', BigId, sa.ForeignKey('units.id'), nullable=False),
    sa.Column('reviewer_unit_id', BigId, sa.ForeignKey('units.id'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('major', sa.Boolean(), nullable=False),
    sa.Column('major_reasons', sa.Text(), nullable=False),
    sa.Column('decision_kind', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('discretion', sa.Text(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('proposal_sha256', sa.String(length=64), nullable=False),
    sa.Column('materials', sa.Text(), nullable=False),
    sa.Column('materials_sha256', sa.String(length=64), nullable=False),
    sa.Column('submitted_by', sa.String(length=128), nullable=False),
    sa.Column('submitted_at', UTCDateTime(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('reviewer', sa.String(length=128), nullable=True),
    sa.Column('opened_at', UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=True),
    sa.Column('changed_kind', sa.String(length=64), nullable=True),
    sa.Column('changed_content', sa.Text(), nullable=True),
    sa.Column('changed_amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('final_sha256', sa.String(length=64), nullable=True),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.Column('opinion_record_id', BigId, sa.ForeignKey('text_records.id'), nullable=True),
    sa.CheckConstraint("state IN ('submitted', 'in_review', 'decided')", name='ck_review_rounds_state'),
    sa.CheckConstraint(f"outcome IS NULL OR outcome IN ({OUTCOMES})", name='ck_review_rounds_outcome'),
    sa.CheckConstraint("(state = 'decided') = (outcome IS NOT NULL)", name='ck_review_rounds_decided'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'round_no', name='uq_review_rounds_case_round'),
    )
    op.create_index('ix_review_rounds_case_id', 'review_rounds', ['case_id'])
    op.create_index('ix_review_rounds_queue', 'review_rounds', ['reviewer_unit_id', 'state'])
    # at most one round of a case is open (submitted or in review) at a time
    op.create_index('uq_review_rounds_open', 'review_rounds', ['case_id'], unique=True,
                    sqlite_where=sa.text("state <> 'decided'"), postgresql_where=sa.text("state <> 'decided'"))
    op.create_table('review_answers',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('round_id', BigId, sa.ForeignKey('review_rounds.id'), nullable=False),
    sa.Column('element', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('prefill', sa.String(length=8), nullable=True),
    sa.Column('prefill_reason', sa.Text(), nullable=False),
    sa.Column('answered_by', sa.String(length=128), nullable=True),
    sa.Column('answered_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("answer IS NULL OR answer IN ('yes', 'no', 'na')", name='ck_review_answers_answer'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'element', name='uq_review_answers_round_element'),
    )
    op.create_index('ix_review_answers_round_id', 'review_answers', ['round_id'])
    op.create_table('review_decisions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=False),
    sa.Column('round_id', BigId, sa.ForeignKey('review_rounds.id'), nullable=False),
    sa.Column('what', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('decision_sha256', sa.String(length=64), nullable=False),
    sa.Column('recorded_by', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_decisions_case_id', 'review_decisions', ['case_id'])
    op.create_table('review_gate_kinds',
    sa.Column('what', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('what', 'kind'),
    )
    op.create_table('review_notices',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('unit_id', BigId, sa.ForeignKey('units.id'), nullable=False),
    sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=False),
    sa.Column('round_id', BigId, sa.ForeignKey('review_rounds.id'), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('read_at', UTCDateTime(), nullable=True),
    sa.Column('read_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_notices_unit_id', 'review_notices', ['unit_id'])
    _triggers()


# A decision row is accepted only on the latest round of its case, decided 同意 or 变更, with the hash
# of the reviewed (or changed) proposal; a decision step or decision document of a major case (or of a
# case submitted for review) only with such a row for the latest round.
_PASSED = ("SELECT 1 FROM review_decisions d JOIN review_rounds r ON r.id = d.round_id "
           "WHERE d.case_id = {case} AND d.what = '{what}' AND r.outcome IN (" + PASSING + ") "
           "AND r.round_no = (SELECT max(round_no) FROM review_rounds WHERE case_id = {case})")
# a case the database knows is major, or one submitted for review at all
_MAJOR = ("SELECT 1 FROM review_cases WHERE case_id = {case} AND major "
          "UNION ALL SELECT 1 FROM review_rounds WHERE case_id = {case}")
_GATED = "SELECT 1 FROM review_gate_kinds WHERE what = '{what}' AND kind = {kind}"
_DECISION_OK = ("SELECT 1 FROM review_rounds r WHERE r.id = NEW.round_id AND r.case_id = NEW.case_id "
                "AND r.state = 'decided' AND r.outcome IN (" + PASSING + ") AND r.final_sha256 = NEW.decision_sha256 "
                "AND r.round_no = (SELECT max(round_no) FROM review_rounds WHERE case_id = NEW.case_id)")
_RECORD_CASE = "(SELECT case_id FROM text_records WHERE id = NEW.record_id)"
_RECORD_KIND = "(SELECT kind FROM text_records WHERE id = NEW.record_id)"
# once decided, a round's proposal, materials and outcome never change
_FROZEN = ("decision_kind", "content", "legal_basis", "discretion", "amount_fen", "statement", "proposal_sha256",
           "materials", "materials_sha256", "submitted_by", "submitted_at", "case_id", "round_no")
_DECIDED = ("outcome", "opinion", "changed_kind", "changed_content", "changed_amount_fen", "final_sha256",
            "decided_by", "decided_at")


def _triggers() -> None:
    bind = op.get_bind()
    step_gate = (f"NEW.kind IN (SELECT kind FROM review_gate_kinds WHERE what = 'step') "
                 f"AND EXISTS ({_MAJOR.format(case='NEW.case_id')}) "
                 f"AND NOT EXISTS ({_PASSED.format(case='NEW.case_id', what='step')})")
    record_gate = (f"{_RECORD_KIND} IN (SELECT kind FROM review_gate_kinds WHERE what = 'record') "
                   f"AND EXISTS ({_MAJOR.format(case=_RECORD_CASE)}) "
                   f"AND NOT EXISTS ({_PASSED.format(case=_RECORD_CASE, what='record')})")
    frozen = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN)
    redecided = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _DECIDED)
    if bind.dialect.name == "sqlite":
        op.execute(f"CREATE TRIGGER review_step_gate BEFORE INSERT ON case_steps WHEN {step_gate} "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")
        op.execute(f"CREATE TRIGGER review_record_gate BEFORE INSERT ON text_record_versions WHEN {record_gate} "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")
        op.execute(f"CREATE TRIGGER review_decision_check BEFORE INSERT ON review_decisions "
                   f"WHEN NOT EXISTS ({_DECISION_OK}) "
                   "BEGIN SELECT RAISE(ABORT, 'a decision must rest on the latest round of its case, passed, "
                   "with the hash of the reviewed proposal'); END")
        op.execute(f"CREATE TRIGGER review_rounds_frozen BEFORE UPDATE ON review_rounds WHEN {frozen} "
                   "BEGIN SELECT RAISE(ABORT, 'a submitted proposal and its pinned materials never change'); END")
        op.execute(f"CREATE TRIGGER review_rounds_decided BEFORE UPDATE ON review_rounds "
                   f"WHEN OLD.state = 'decided' AND (NEW.state IS NOT OLD.state OR {redecided}) "
                   "BEGIN SELECT RAISE(ABORT, 'a decided review round never changes'); END")
        for table in KEPT:
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted'); END")
        return
    # PostgreSQL: IS DISTINCT FROM for IS NOT
    frozen = frozen.replace(" IS NOT ", " IS DISTINCT FROM ")
    redecided = redecided.replace(" IS NOT ", " IS DISTINCT FROM ")
    op.execute("CREATE OR REPLACE FUNCTION review_step_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"IF {step_gate} THEN RAISE EXCEPTION '{REFUSED}'; END IF; RETURN NEW; END $$")
    op.execute("CREATE TRIGGER review_step_gate BEFORE INSERT ON case_steps FOR EACH ROW "
               "EXECUTE FUNCTION review_step_gate()")
    op.execute("CREATE OR REPLACE FUNCTION review_record_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"IF {record_gate} THEN RAISE EXCEPTION '{REFUSED}'; END IF; RETURN NEW; END $$")
    op.execute("CREATE TRIGGER review_record_gate BEFORE INSERT ON text_record_versions FOR EACH ROW "
               "EXECUTE FUNCTION review_record_gate()")
    op.execute("CREATE OR REPLACE FUNCTION review_decision_check() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"IF NOT EXISTS ({_DECISION_OK}) THEN RAISE EXCEPTION 'a decision must rest on the latest round "
               "of its case, passed, with the hash of the reviewed proposal'; END IF; RETURN NEW; END $$")
    op.execute("CREATE TRIGGER review_decision_check BEFORE INSERT ON review_decisions FOR EACH ROW "
               "EXECUTE FUNCTION review_decision_check()")
    op.execute("CREATE OR REPLACE FUNCTION review_rounds_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"IF {frozen} THEN RAISE EXCEPTION 'a submitted proposal and its pinned materials never change'; "
               f"END IF; IF OLD.state = 'decided' AND (NEW.state IS DISTINCT FROM OLD.state OR {redecided}) THEN "
               "RAISE EXCEPTION 'a decided review round never changes'; END IF; RETURN NEW; END $$")
    op.execute("CREATE TRIGGER review_rounds_frozen BEFORE UPDATE ON review_rounds FOR EACH ROW "
               "EXECUTE FUNCTION review_rounds_frozen()")
    for table in KEPT:
        op.execute(f"CREATE OR REPLACE FUNCTION {table}_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION '{table} rows are never deleted'; END $$")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_no_delete()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("review_step_gate", "review_record_gate", "review_decision_check", "review_rounds_frozen",
                     "review_rounds_decided", *(f"{t}_no_delete" for t in KEPT)):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, table in (("review_step_gate", "case_steps"), ("review_record_gate", "text_record_versions"),
                            ("review_decision_check", "review_decisions"), ("review_rounds_frozen", "review_rounds"),
                            *((f"{t}_no_delete", t) for t in KEPT)):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for table in ("review_notices", "review_gate_kinds", "review_decisions", "review_answers", "review_rounds",
                  "review_marks", "review_cases", "officer_certificates"):
        op.drop_table(table)
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('officer_no')
        batch_op.drop_column('legal_qualification')
