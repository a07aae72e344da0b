"""solver status up to 64 characters (OR-Tools' longest status code is 41)

Revision ID: 9c4e1a7b2d10
Revises: 7daa2096ecca
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c4e1a7b2d10'
down_revision = '7daa2096ecca'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.alter_column(
            'solver_status', existing_type=sa.String(length=40), type_=sa.String(length=64)
        )


def downgrade():
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.alter_column(
            'solver_status', existing_type=sa.String(length=64), type_=sa.String(length=40)
        )
