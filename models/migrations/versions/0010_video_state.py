"""video.stage becomes video.state: "stage" names a flow (heavy, finalize, ...), "state" is where
a video is in its lifecycle (ingested, processed, finalized, archived, failed)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:40:00
"""

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # RENAME COLUMN is plain SQL on SQLite (3.25+) and PostgreSQL alike: no table rebuild.
    op.execute("DROP INDEX ix_video_stage")
    op.execute("ALTER TABLE video RENAME COLUMN stage TO state")
    op.execute("CREATE INDEX ix_video_state ON video (state)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_video_state")
    op.execute("ALTER TABLE video RENAME COLUMN state TO stage")
    op.execute("CREATE INDEX ix_video_stage ON video (stage)")
