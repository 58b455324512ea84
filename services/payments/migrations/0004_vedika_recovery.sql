-- VEDIKA recoveries: what a hospital owes back (asset:receivable:<kode_rs>) is deducted from its next
-- payments. A recovery is its own ledger kind, and each payment records how much of it was netted.
ALTER TABLE payments ADD COLUMN recovered bigint NOT NULL DEFAULT 0 CHECK (recovered >= 0);
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('payable', 'payment', 'penalty', 'adjustment', 'capitation', 'recovery'));
-- Corrections of one paid payable are summed to keep them within what was paid.
CREATE INDEX ledger_corrections ON ledger_entries (payable_id) WHERE kind = 'adjustment';
