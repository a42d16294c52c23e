"""the canonical plate-text index folds D and Q to 0 too (the reader's look-alike table)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:10:00
"""

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Must stay identical to tasks.plate_text.canon_sql("text"): SQLite uses an expression index
# only when the query's expression is the same. Written out so the migration never changes
# when the code does. The order is tasks.plate_text.LETTER_TO_DIGIT's.
CANON_TEXT = (
    "replace(replace(replace(replace(replace(replace(replace(replace(text, 'O', '0'), "
    "'Q', '0'), 'D', '0'), 'I', '1'), 'B', '8'), 'S', '5'), 'Z', '2'), 'G', '6')"
)
# Migration 0003's fold: O, B, I, S, Z and G only.
OLD_CANON_TEXT = (
    "replace(replace(replace(replace(replace(replace(text, 'O', '0'), 'B', '8'), "
    "'I', '1'), 'S', '5'), 'Z', '2'), 'G', '6')"
)


def upgrade() -> None:
    op.execute("DROP INDEX ix_plate_text_canon")
    op.execute(f"CREATE INDEX ix_plate_text_canon ON plate ({CANON_TEXT})")


def downgrade() -> None:
    op.execute("DROP INDEX ix_plate_text_canon")
    op.execute(f"CREATE INDEX ix_plate_text_canon ON plate ({OLD_CANON_TEXT})")
