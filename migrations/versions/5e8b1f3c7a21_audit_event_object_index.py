"""index audit events by object, for "who saw this person's data" (UU PDP access trail)

Revision ID: 5e8b1f3c7a21
Revises: 9c4e1a7b2d10
Create Date: 2026-12-05 07:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5e8b1f3c7a21'
down_revision = '9c4e1a7b2d10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_object', ['object_type', 'object_id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_object')
