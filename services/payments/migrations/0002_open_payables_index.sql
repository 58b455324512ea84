-- Runs and the monitor read only open payables: mark payment on the payable and index what is open,
-- so their cost follows the backlog, not the whole history.
ALTER TABLE payables ADD COLUMN payment_id text;
UPDATE payables p SET payment_id = x.payment_id FROM payments x WHERE x.payable_id = p.id;
CREATE INDEX payables_open ON payables (due_on, verified_on, id) WHERE payment_id IS NULL;
