"""video.heavy_device; 64-bit sizes and mtimes; watchlist.created_at timezone-aware

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 03:40:00

0003 created watchlist.created_at as a naive DateTime while the model stores aware UTC times;
SQLite cannot tell the two apart, PostgreSQL can (issue 7 runs the app DB there). Likewise
file sizes and mtime_ns need 64 bits, which SQLite gives every INTEGER and PostgreSQL does not.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('video', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heavy_device', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    if op.get_bind().dialect.name != 'sqlite':  # SQLite integers are 64-bit and untyped times
        op.alter_column('watchlist', 'created_at', type_=sqlmodel.sql.sqltypes.UTCDateTime(),
                        existing_nullable=False, postgresql_using="created_at AT TIME ZONE 'UTC'")
        for table, column in (('video', 'size_bytes'), ('seenfile', 'size_bytes'), ('seenfile', 'mtime_ns')):
            op.alter_column(table, column, type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('watchlist', 'created_at', type_=sa.DateTime(), existing_nullable=False)
        for table, column in (('video', 'size_bytes'), ('seenfile', 'size_bytes'), ('seenfile', 'mtime_ns')):
            op.alter_column(table, column, type_=sa.Integer(), existing_nullable=False)
    with op.batch_alter_table('video', schema=None) as batch_op:
        batch_op.drop_column('heavy_device')
