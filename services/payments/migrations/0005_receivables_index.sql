-- Every payment run reads what each hospital still owes back (VEDIKA corrections less recoveries). Those
-- postings are a handful among millions of ledger entries: indexed apart, the read stays constant as the
-- ledger grows (with 1,000,000 paid claims stored it was a sequential scan of ~2M rows on every run).
-- The predicate is the literal the query uses (services/payments/adapters/ledger.py `receivables`).
CREATE INDEX ledger_receivable_debits ON ledger_entries (debit_account, amount)
    WHERE debit_account LIKE 'asset:receivable:%';
CREATE INDEX ledger_receivable_credits ON ledger_entries (credit_account, amount)
    WHERE credit_account LIKE 'asset:receivable:%';
