"""watchlist table and the canonical plate-text index for fuzzy search

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:20:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Must stay identical to dashboard.fuzzy.canon_sql("text"): SQLite uses an expression index
# only when the query's expression is the same. Written out so the migration never changes
# when the dashboard code does.
CANON_TEXT = (
    "replace(replace(replace(replace(replace(replace(text, 'O', '0'), 'B', '8'), "
    "'I', '1'), 'S', '5'), 'Z', '2'), 'G', '6')"
)


def upgrade() -> None:
    op.create_table(
        'watchlist',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('label', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('watchlist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchlist_text'), ['text'], unique=True)
    # Fuzzy plate search: equality / range lookups on the canonical form (dashboard/fuzzy.py).
    op.execute(f"CREATE INDEX ix_plate_text_canon ON plate ({CANON_TEXT})")


def downgrade() -> None:
    op.execute("DROP INDEX ix_plate_text_canon")
    with op.batch_alter_table('watchlist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchlist_text'))
    op.drop_table('watchlist')
