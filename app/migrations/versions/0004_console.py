"""console: roster, tags, notes, search terms, bay status, units on evidence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 16:04:28.739624
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op


def UTCDateTime() -> sa.DateTime:
    """Time-zone aware UTC times (text on SQLite), as ``liuhen.db.UTCDateTime`` stores them; spelt
    out here so that this migration never changes with live code."""
    return sa.DateTime(timezone=True).with_variant(sa.String(40), "sqlite")


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recorders',
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('officer_no', sa.String(length=128), nullable=True),
    sa.Column('assigned_at', UTCDateTime(), nullable=True),
    sa.Column('assigned_by', sa.String(length=128), nullable=True),
    sa.Column('last_station_id', sa.String(length=64), nullable=True),
    sa.Column('last_bay', sa.String(length=128), nullable=True),
    sa.Column('last_docked_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('device_id')
    )
    with op.batch_alter_table('recorders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recorders_officer_no'), ['officer_no'], unique=False)

    op.create_table('officers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('officer_no', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('officer_no')
    )
    with op.batch_alter_table('officers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_officers_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_officers_unit_id'), ['unit_id'], unique=False)

    op.create_table('bay_status',
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('bay', sa.String(length=128), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], ),
    sa.PrimaryKeyConstraint('station_id', 'bay')
    )
    op.create_table('evidence_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('evidence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_notes_evidence_id'), ['evidence_id'], unique=False)

    op.create_table('evidence_tags',
    sa.Column('evidence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ),
    sa.PrimaryKeyConstraint('evidence_id', 'tag')
    )
    op.create_table('search_terms',
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.Column('evidence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ),
    sa.PrimaryKeyConstraint('term', 'evidence_id')
    )
    with op.batch_alter_table('search_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_terms_evidence_id'), ['evidence_id'], unique=False)

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index('ix_evidence_device_recorded', ['device_id', 'recorded_at'], unique=False)
        batch_op.create_index('ix_evidence_officer_recorded', ['officer_id', 'recorded_at'], unique=False)
        batch_op.create_index('ix_evidence_unit_recorded', ['unit_id', 'recorded_at', 'id'], unique=False)
        batch_op.create_foreign_key('fk_evidence_unit_id', 'units', ['unit_id'], ['id'])

    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.create_index('ix_sightings_station_evidence', ['station_id', 'evidence_id'], unique=False)

    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key('fk_stations_unit_id', 'units', ['unit_id'], ['id'])

    if op.get_bind().dialect.name == "postgresql":
        # the planner must know how common each term is to pick between the term's postings and the
        # scope's index (bench/search_pg.py: a common word in a narrow scope, p95 119 ms -> 51 ms)
        op.execute("ALTER TABLE search_terms ALTER COLUMN term SET STATISTICS 1000")
    _backfill_search_terms()



# The term function as it was at this revision, frozen here so that this migration does the same
# on every archive whatever later code does to the live index (archive/terms.py).
_MAX_TERM = 32
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def terms(text: str) -> set[str]:
    out: set[str] = set()
    for m in _RUNS.finditer(unicodedata.normalize("NFKC", text).lower()):
        run = m.group()
        if _is_cjk(run[0]):
            out.update(run)
            out.update(run[i:i + 2] for i in range(len(run) - 1))
        else:
            word = run[:_MAX_TERM]
            out.add(word)
            out.update(word[:k] for k in range(2, len(word)))
    return out


def _backfill_search_terms() -> None:
    """Evidence archived before this revision gets its terms (file name, recorder, officer number,
    original paths), so that free text finds it too."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, file_name, device_id, officer_id FROM evidence")).all()
    paths: dict[int, list[str]] = {}
    for eid, path in bind.execute(sa.text("SELECT evidence_id, original_path FROM sightings")):
        paths.setdefault(eid, []).append(path)
    insert = sa.text("INSERT INTO search_terms (term, evidence_id) VALUES (:term, :evidence_id)")
    for eid, name, device, officer in rows:
        found: set[str] = set()
        for text in [name, device or "", officer or "", *paths.get(eid, [])]:
            found |= terms(text)
        if found:
            bind.execute(insert, [{"term": t, "evidence_id": eid} for t in sorted(found)])


def downgrade() -> None:
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_constraint('fk_stations_unit_id', type_='foreignkey')
        batch_op.drop_column('unit_id')

    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_index('ix_sightings_station_evidence')

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_constraint('fk_evidence_unit_id', type_='foreignkey')
        batch_op.drop_index('ix_evidence_unit_recorded')
        batch_op.drop_index('ix_evidence_officer_recorded')
        batch_op.drop_index('ix_evidence_device_recorded')
        batch_op.drop_column('unit_id')

    with op.batch_alter_table('search_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_terms_evidence_id'))

    op.drop_table('search_terms')
    op.drop_table('evidence_tags')
    with op.batch_alter_table('evidence_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_notes_evidence_id'))

    op.drop_table('evidence_notes')
    op.drop_table('bay_status')
    with op.batch_alter_table('officers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_officers_unit_id'))
        batch_op.drop_index(batch_op.f('ix_officers_name'))

    op.drop_table('officers')
    with op.batch_alter_table('recorders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recorders_officer_no'))

    op.drop_table('recorders')
