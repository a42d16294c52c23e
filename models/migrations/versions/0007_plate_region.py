"""plate.region: whose plate formats read the plate (from the GPS, or the setting)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plate', schema=None) as batch_op:
        batch_op.drop_column('region')
