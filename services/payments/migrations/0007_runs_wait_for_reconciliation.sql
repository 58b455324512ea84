-- No payment or capitation run is registered while a restore is not reconciled. The service's gate keeps runs
-- waiting until its reconciliation has committed; this covers the seconds after `claimsctl restore --force`
-- under a running instance, before it notices the marker. The error is transient (55P03): a run command is
-- retried, never committed past. The reconciler registers the runs it rebuilds itself: it says so for its own
-- transaction (set_config('jkn.reconciling', 'on', true)).
CREATE FUNCTION runs_wait_for_reconciliation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pending boolean;
BEGIN
    IF coalesce(current_setting('jkn.reconciling', true), '') = 'on' THEN
        RETURN NEW;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.restores WHERE reconciled_at IS NULL)', TG_TABLE_SCHEMA)
        INTO pending;
    IF pending THEN
        RAISE EXCEPTION 'run % waits: the database was restored and is not reconciled with claims.paid yet', NEW.run_id
            USING ERRCODE = '55P03';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payment_runs_wait_for_reconciliation BEFORE INSERT ON payment_runs
    FOR EACH ROW EXECUTE FUNCTION runs_wait_for_reconciliation();
CREATE TRIGGER capitation_runs_wait_for_reconciliation BEFORE INSERT ON capitation_runs
    FOR EACH ROW EXECUTE FUNCTION runs_wait_for_reconciliation();
