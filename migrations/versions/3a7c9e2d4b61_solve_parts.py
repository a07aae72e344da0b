"""parts of decomposed solves (scale-out issue, item 1)

Revision ID: 3a7c9e2d4b61
Revises: 5e8b1f3c7a21
Create Date: 2026-12-05 11:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '3a7c9e2d4b61'
down_revision = '5e8b1f3c7a21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'solve_part',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.String(length=36), nullable=False),
        sa.Column('index', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=80), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=False),
        sa.Column('time_limit_s', sa.Float(), nullable=False),
        sa.Column('progress', sa.JSON(), nullable=False),
        sa.Column('routes', sa.JSON(), nullable=True),
        sa.Column('solver_status', sa.String(length=64), nullable=False),
        sa.Column('worker', sa.String(length=80), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['job_id'], ['solve_job.id'], name=op.f('fk_solve_part_job_id_solve_job'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_solve_part')),
        sa.UniqueConstraint('job_id', 'index', name='uq_solve_part_index'),
    )
    with op.batch_alter_table('solve_part', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solve_part_job_id'), ['job_id'], unique=False)


def downgrade():
    with op.batch_alter_table('solve_part', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solve_part_job_id'))
    op.drop_table('solve_part')
