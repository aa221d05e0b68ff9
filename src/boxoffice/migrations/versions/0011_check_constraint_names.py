"""CHECK constraints get the names the models give them.

0001 and 0010 passed already-prefixed names (``ck_ticket_types_no_oversell``) to a metadata whose naming convention
prefixes them again, so the databases have ``ck_ticket_types_ck_ticket_types_no_oversell``: a later migration naming
the model's constraint would miss it. The conditions do not change. (SQLite cannot rename a constraint: the table is
rebuilt.)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CHECKS = {
    "ticket_types": {
        "quantity_positive": "quantity >= 1",
        "counters_non_negative": "sold_count >= 0 AND held_count >= 0",
        "no_oversell": "sold_count + held_count <= quantity",
    },
    "refunds": {"amount_positive": "amount_cents > 0"},
}


def _rename(doubled_to_model: bool) -> None:
    for table, checks in CHECKS.items():
        renames = []
        for short in checks:
            model, doubled = f"ck_{table}_{short}", f"ck_{table}_ck_{table}_{short}"
            renames.append((doubled, model) if doubled_to_model else (model, doubled))
        if op.get_bind().dialect.name == "sqlite":
            with op.batch_alter_table(table, recreate="always") as batch:
                for (old, new), condition in zip(renames, checks.values(), strict=True):
                    batch.drop_constraint(op.f(old), type_="check")
                    batch.create_check_constraint(op.f(new), condition)
        else:
            for old, new in renames:
                op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT "{old}" TO "{new}"')


def upgrade() -> None:
    _rename(doubled_to_model=True)


def downgrade() -> None:
    _rename(doubled_to_model=False)
