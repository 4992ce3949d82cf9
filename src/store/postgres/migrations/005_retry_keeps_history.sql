-- Retry keeps a run's history and retries the failed children it would wait on again (as SQLite's
-- SqliteRetry, src/store/sqlite/sqlite-retry.ts). Functions only: no table changes.

-- Append {at, afterAttempt} to an entry's detail.retries: where the new retry round starts.
CREATE FUNCTION dirigent_mark_retry(p_detail text, p_now bigint, p_attempt int) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN jsonb_set(coalesce(p_detail::jsonb, '{}'), '{retries}',
    coalesce(p_detail::jsonb->'retries', '[]')
      || jsonb_build_array(jsonb_build_object('at', p_now, 'afterAttempt', p_attempt)))::text;
END $$;

-- Reopen one failed run from its first failed entry, keeping that entry's history: a step becomes
-- "retrying" (due now), a task (queued again) or a child wait becomes "waiting"; a signal that timed out
-- is dropped and asked for afresh. Entries after it are dropped and run again; tasks the run's ending
-- cancelled are queued again. Then the failed children named by its open child entries are reopened the
-- same way. A refusal anywhere raises SQLSTATE DGR01
-- with the refusal as JSON, so the caller's exception block undoes the whole tree.
CREATE FUNCTION dirigent_reopen_run(p_run text, p_now bigint, p_top boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
  v_refusal jsonb := '{"ok": false, "code": "RUN_NOT_RETRYABLE"}';
  v_children text[];
  v_child text;
  v_child_status text;
  f record;
  v_drop int := 1000000000;
BEGIN
  IF NOT p_top THEN
    v_refusal := v_refusal || jsonb_build_object('runId', p_run);
  END IF;
  SELECT status INTO v_status FROM runs WHERE run_id = p_run FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'DGR01', MESSAGE = '{"ok": false, "code": "RUN_NOT_FOUND"}';
  ELSIF v_status <> 'failed' THEN
    RAISE EXCEPTION USING ERRCODE = 'DGR01',
      MESSAGE = (v_refusal || jsonb_build_object('status', v_status))::text;
  ELSIF EXISTS (SELECT 1 FROM journal WHERE run_id = p_run AND seq >= 1000000000 AND status = 'completed') THEN
    RAISE EXCEPTION USING ERRCODE = 'DGR01', MESSAGE = v_refusal::text;
  END IF;
  -- Children the replay would wait on again: those of child entries not completed, in seq order.
  SELECT array_agg(detail_json::jsonb->>'childRunId' ORDER BY seq) INTO v_children FROM journal
  WHERE run_id = p_run AND kind = 'child' AND status <> 'completed' AND seq < 1000000000;
  -- Pending first: a child entry that leads back to this run finds it no longer failed.
  UPDATE runs SET status = 'pending', error_json = NULL, output_json = NULL, completed_at = NULL,
    cancel_requested = false, deadline_at = NULL, owner = NULL, lease_expires_at = NULL, wake_at = p_now,
    updated_at = p_now
  WHERE run_id = p_run;
  SELECT seq, kind, detail_json::jsonb->>'childRunId' AS child INTO f FROM journal
  WHERE run_id = p_run AND status = 'failed' AND seq < 1000000000 ORDER BY seq LIMIT 1;
  -- Without a failed entry (a nondeterminism or timeout failure) the whole recorded journal is replayed.
  IF FOUND THEN
    v_drop := f.seq + 1;
    IF f.kind = 'step' THEN
      UPDATE journal SET status = 'retrying', wake_at = p_now,
        detail_json = dirigent_mark_retry(detail_json, p_now, attempt), updated_at = p_now
      WHERE run_id = p_run AND seq = f.seq;
    ELSIF f.kind = 'task' OR (f.kind = 'child' AND EXISTS (SELECT 1 FROM runs WHERE run_id = f.child)) THEN
      UPDATE journal SET status = 'waiting', wake_at = NULL,
        detail_json = dirigent_mark_retry(detail_json, p_now, attempt), updated_at = p_now
      WHERE run_id = p_run AND seq = f.seq;
    ELSE
      v_drop := f.seq;
    END IF;
  END IF;
  DELETE FROM journal WHERE run_id = p_run AND seq >= v_drop;
  DELETE FROM attempts WHERE run_id = p_run AND seq >= v_drop;
  DELETE FROM tasks WHERE run_id = p_run AND seq >= v_drop;
  -- Tasks left: the reopened one (failed) and those the run's ending cancelled. They go back to their
  -- queue with their attempt count (a new lease token fences off old workers); a schedule-to-start limit
  -- counts anew.
  UPDATE tasks SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, available_at = p_now,
    schedule_to_start_at = p_now + schedule_to_start_at - created_at, updated_at = p_now
  WHERE run_id = p_run AND status IN ('failed', 'cancelled');
  FOREACH v_child IN ARRAY coalesce(v_children, '{}') LOOP
    CONTINUE WHEN v_child IS NULL;
    SELECT status INTO v_child_status FROM runs WHERE run_id = v_child;
    IF v_child_status = 'failed' THEN
      PERFORM dirigent_reopen_run(v_child, p_now, false);
    ELSIF v_child_status IN ('cancelled', 'terminated') THEN
      RAISE EXCEPTION USING ERRCODE = 'DGR01', MESSAGE = jsonb_build_object('ok', false,
        'code', 'RUN_NOT_RETRYABLE', 'runId', v_child, 'status', v_child_status)::text;
    END IF;
  END LOOP;
END $$;

-- The exception block is a subtransaction: a refusal found deep in the tree changes nothing.
CREATE OR REPLACE FUNCTION dirigent_op_retry_run(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM dirigent_reopen_run(op->>'runId', dirigent_ms(op->>'now'), true);
  RETURN '{"ok": true, "due": true}';
EXCEPTION WHEN SQLSTATE 'DGR01' THEN
  RETURN SQLERRM::jsonb;
END $$;
