-- Dirigent on PostgreSQL: the same tables as on SQLite, plus one stored function per atomic transition.
-- Times are epoch milliseconds in BIGINT. JSON is kept as TEXT, byte for byte as the engine encoded it.
-- Identifiers use the "C" collation so ordering (list pages, lock order) matches SQLite's binary order.
-- Every object is created unqualified: it lands in the store's schema (the connection's search_path).

CREATE TABLE runs (
  run_id            TEXT COLLATE "C" PRIMARY KEY,
  workflow          TEXT COLLATE "C" NOT NULL,
  version           TEXT NOT NULL,
  status            TEXT NOT NULL,
  input_json        TEXT,
  output_json       TEXT,
  error_json        TEXT,
  parent_run_id     TEXT COLLATE "C",
  parent_seq        INTEGER,
  owner             TEXT COLLATE "C",
  fence             BIGINT NOT NULL DEFAULT 0,
  lease_expires_at  BIGINT,
  wake_at           BIGINT,
  cancel_requested  BOOLEAN NOT NULL DEFAULT false,
  deadline_at       BIGINT,
  created_at        BIGINT NOT NULL,
  started_at        BIGINT,
  updated_at        BIGINT NOT NULL,
  completed_at      BIGINT
);
-- Claim paths: unowned runs that are due, and owned runs whose lease expired.
CREATE INDEX runs_wake ON runs (wake_at) WHERE owner IS NULL AND wake_at IS NOT NULL;
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE owner IS NOT NULL;
CREATE INDEX runs_owner ON runs (owner) WHERE owner IS NOT NULL;
-- Listing, newest first, optionally by status or workflow.
CREATE INDEX runs_created ON runs (created_at DESC, run_id DESC);
CREATE INDEX runs_status_created ON runs (status, created_at DESC, run_id DESC);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at DESC, run_id DESC);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- The journal: one row per ctx call of a run, keyed by (run_id, seq).
CREATE TABLE journal (
  run_id       TEXT COLLATE "C" NOT NULL,
  seq          INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  name         TEXT NOT NULL,
  status       TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  result_json  TEXT,
  error_json   TEXT,
  wake_at      BIGINT,
  detail_json  TEXT,
  started_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (run_id, seq)
);

-- Failed attempts of steps (the final successful attempt is on the journal row).
CREATE TABLE attempts (
  run_id      TEXT COLLATE "C" NOT NULL,
  seq         INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  started_at  BIGINT NOT NULL,
  ended_at    BIGINT NOT NULL,
  error_json  TEXT NOT NULL,
  node        TEXT,
  PRIMARY KEY (run_id, seq, attempt)
);

-- Signals, buffered until a wait consumes them (in the order they arrived).
CREATE TABLE signals (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id        TEXT COLLATE "C" NOT NULL,
  name          TEXT NOT NULL,
  payload_json  TEXT,
  received_at   BIGINT NOT NULL,
  consumed_seq  INTEGER
);
CREATE INDEX signals_pending ON signals (run_id, name, id) WHERE consumed_seq IS NULL;
CREATE INDEX signals_run ON signals (run_id, id);

-- ---- Transitions -------------------------------------------------------------------------------------
-- PostgresStore.write sends a whole batch of operations (the engine's WriteOp objects as JSON) to
-- dirigent_apply in ONE statement, so a batch costs the same few round trips whatever its size. Each
-- dirigent_op_* function is one atomic transition; it returns its WriteResult as JSON, plus "due": true
-- when it made some run claimable now (the batch then sends one NOTIFY so idle nodes wake up at once).
-- A refused operation (stale fence, unknown or finished run) changes nothing and does not abort the rest.

-- JSON numbers to epoch ms; a fractional time is rounded up (a timer never fires early).
CREATE FUNCTION dirigent_ms(v text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT ceil(v::numeric)::bigint $$;

-- An owner's precondition: the run exists, still carries the owner's fence, and is not finished. The row
-- stays locked until the batch commits, so no claim or terminate can slip in between check and write.
CREATE FUNCTION dirigent_check_owner(p_run_id text, p_fence bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  SELECT fence, status INTO r FROM runs WHERE run_id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"ok": false, "code": "RUN_NOT_FOUND"}';
  ELSIF r.fence IS DISTINCT FROM p_fence THEN
    RETURN '{"ok": false, "code": "STALE_FENCE"}';
  ELSIF r.status IN ('completed', 'failed', 'cancelled', 'terminated') THEN
    RETURN jsonb_build_object('ok', false, 'code', 'RUN_FINISHED', 'status', r.status);
  END IF;
  RETURN NULL;
END $$;

-- The precondition of events from outside (signal, cancel, terminate): the run exists and is not finished.
CREATE FUNCTION dirigent_check_live(p_run_id text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
BEGIN
  SELECT status INTO v_status FROM runs WHERE run_id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"ok": false, "code": "RUN_NOT_FOUND"}';
  ELSIF v_status IN ('completed', 'failed', 'cancelled', 'terminated') THEN
    RETURN jsonb_build_object('ok', false, 'code', 'RUN_FINISHED', 'status', v_status);
  END IF;
  RETURN NULL;
END $$;

-- Helpers are PL/pgSQL rather than SQL functions: PL/pgSQL keeps its statements' plans for the session,
-- SQL functions called from PL/pgSQL would be planned again on every call.

-- An event for a run: make it due now (or keep an earlier due time). For an owned run this marks
-- "something arrived while you were busy"; suspendRun then keeps it due instead of sleeping.
CREATE FUNCTION dirigent_wake(p_run_id text, p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE runs SET wake_at = LEAST(wake_at, p_now)
  WHERE run_id = p_run_id AND status NOT IN ('completed', 'failed', 'cancelled', 'terminated');
END $$;

CREATE FUNCTION dirigent_put_entry(p_run_id text, e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO journal (run_id, seq, kind, name, status, attempt, result_json, error_json, wake_at, detail_json,
    started_at, updated_at)
  VALUES (p_run_id, (e->>'seq')::int, e->>'kind', e->>'name', e->>'status', (e->>'attempt')::int,
    e->>'resultJson', e->>'errorJson', dirigent_ms(e->>'wakeAt'), e->>'detailJson',
    dirigent_ms(e->>'startedAt'), dirigent_ms(e->>'updatedAt'))
  ON CONFLICT (run_id, seq) DO UPDATE SET status = excluded.status, attempt = excluded.attempt,
    result_json = excluded.result_json, error_json = excluded.error_json, wake_at = excluded.wake_at,
    detail_json = excluded.detail_json, updated_at = excluded.updated_at;
END $$;

-- createRun (and the child of startChild): insert unless the id exists; with a claim, owned at once.
CREATE FUNCTION dirigent_create_run(run jsonb, claim jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(run->>'now');
  v_row runs;
BEGIN
  IF jsonb_typeof(claim) IS DISTINCT FROM 'object' THEN
    claim := NULL;
  END IF;
  INSERT INTO runs (run_id, workflow, version, status, input_json, parent_run_id, parent_seq, owner, fence,
    lease_expires_at, wake_at, deadline_at, created_at, started_at, updated_at)
  VALUES (run->>'runId', run->>'workflow', run->>'version',
    CASE WHEN claim IS NULL THEN 'pending' ELSE 'running' END,
    run->>'inputJson', run->>'parentRunId', (run->>'parentSeq')::int, claim->>'nodeId',
    CASE WHEN claim IS NULL THEN 0 ELSE 1 END,
    v_now + dirigent_ms(claim->>'leaseMs'),
    CASE WHEN claim IS NULL THEN v_now END,
    dirigent_ms(run->>'deadlineAt'), v_now,
    CASE WHEN claim IS NOT NULL THEN v_now END,
    v_now)
  ON CONFLICT (run_id) DO NOTHING;
  IF FOUND THEN
    RETURN jsonb_build_object('ok', true, 'created', true, 'due', claim IS NULL);
  END IF;
  SELECT * INTO v_row FROM runs WHERE run_id = run->>'runId';
  RETURN jsonb_build_object('ok', true, 'created', false, 'run', to_jsonb(v_row));
END $$;

CREATE FUNCTION dirigent_op_put_entry(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_run text := op->>'runId';
  bad jsonb := dirigent_check_owner(op->>'runId', (op->>'fence')::bigint);
  a jsonb := op->'failedAttempt';
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  PERFORM dirigent_put_entry(v_run, op->'entry');
  IF jsonb_typeof(a) = 'object' THEN
    INSERT INTO attempts (run_id, seq, attempt, started_at, ended_at, error_json, node)
    VALUES (v_run, (a->>'seq')::int, (a->>'attempt')::int, dirigent_ms(a->>'startedAt'),
      dirigent_ms(a->>'endedAt'), a->>'errorJson', a->>'node')
    ON CONFLICT (run_id, seq, attempt) DO UPDATE SET started_at = excluded.started_at,
      ended_at = excluded.ended_at, error_json = excluded.error_json, node = excluded.node;
  END IF;
  RETURN '{"ok": true}';
END $$;

-- Consume the oldest unconsumed signal of that name for the wait at seq, or record the wait.
CREATE FUNCTION dirigent_op_consume_signal(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_run text := op->>'runId';
  v_seq int := (op->>'seq')::int;
  v_now bigint := dirigent_ms(op->>'now');
  waiting jsonb := op->'waitingEntry';
  bad jsonb := dirigent_check_owner(op->>'runId', (op->>'fence')::bigint);
  sig record;
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  SELECT id, payload_json INTO sig FROM signals
  WHERE run_id = v_run AND name = op->>'signalName' AND consumed_seq IS NULL
  ORDER BY id LIMIT 1;
  IF FOUND THEN
    UPDATE signals SET consumed_seq = v_seq WHERE id = sig.id;
    INSERT INTO journal (run_id, seq, kind, name, status, attempt, result_json, detail_json, started_at, updated_at)
    VALUES (v_run, v_seq, 'signal', op->>'name', 'completed', 0, sig.payload_json,
      format('{"signalName":%s,"signalId":%s}', to_json(op->>'signalName'), sig.id),
      coalesce(dirigent_ms(waiting->>'startedAt'), v_now), v_now)
    ON CONFLICT (run_id, seq) DO UPDATE SET status = 'completed', result_json = excluded.result_json,
      wake_at = NULL, updated_at = excluded.updated_at;
    RETURN jsonb_build_object('ok', true, 'consumed', true, 'payloadJson', sig.payload_json);
  END IF;
  IF jsonb_typeof(waiting) = 'object' THEN
    PERFORM dirigent_put_entry(v_run, waiting);
  END IF;
  RETURN '{"ok": true, "consumed": false}';
END $$;

CREATE FUNCTION dirigent_op_start_child(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  bad jsonb := dirigent_check_owner(op->>'runId', (op->>'fence')::bigint);
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  PERFORM dirigent_put_entry(op->>'runId', op->'entry');
  RETURN dirigent_create_run(op->'child', op->'claim');
END $$;

-- Release the lease and wait; keep an earlier wake-up that arrived while the run was owned.
CREATE FUNCTION dirigent_op_suspend_run(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  bad jsonb := dirigent_check_owner(op->>'runId', (op->>'fence')::bigint);
  v_wake bigint;
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  -- LEAST ignores NULLs: the earlier of the two wake-ups, or whichever exists.
  UPDATE runs SET owner = NULL, lease_expires_at = NULL, status = 'waiting', updated_at = v_now,
    wake_at = LEAST(wake_at, dirigent_ms(op->>'wakeAt'))
  WHERE run_id = op->>'runId'
  RETURNING wake_at INTO v_wake;
  RETURN jsonb_build_object('ok', true, 'due', v_wake IS NOT NULL AND v_wake <= v_now);
END $$;

CREATE FUNCTION dirigent_op_release_run(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  bad jsonb := dirigent_check_owner(op->>'runId', (op->>'fence')::bigint);
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  UPDATE runs SET owner = NULL, lease_expires_at = NULL, wake_at = v_now, updated_at = v_now
  WHERE run_id = op->>'runId';
  RETURN '{"ok": true, "due": true}';
END $$;

CREATE FUNCTION dirigent_op_complete_run(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  bad jsonb := dirigent_check_owner(op->>'runId', (op->>'fence')::bigint);
  v_parent text;
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  UPDATE runs SET status = op->>'status', output_json = op->>'outputJson', error_json = op->>'errorJson',
    owner = NULL, lease_expires_at = NULL, wake_at = NULL, completed_at = v_now, updated_at = v_now
  WHERE run_id = op->>'runId'
  RETURNING parent_run_id INTO v_parent;
  IF v_parent IS NOT NULL THEN
    PERFORM dirigent_wake(v_parent, v_now);
    RETURN '{"ok": true, "due": true}';
  END IF;
  RETURN '{"ok": true}';
END $$;

CREATE FUNCTION dirigent_op_deliver_signal(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  bad jsonb := dirigent_check_live(op->>'runId');
  v_id bigint;
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  INSERT INTO signals (run_id, name, payload_json, received_at)
  VALUES (op->>'runId', op->>'name', op->>'payloadJson', v_now)
  RETURNING id INTO v_id;
  PERFORM dirigent_wake(op->>'runId', v_now);
  RETURN jsonb_build_object('ok', true, 'signalId', v_id, 'due', true);
END $$;

CREATE FUNCTION dirigent_op_request_cancel(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  bad jsonb := dirigent_check_live(op->>'runId');
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  UPDATE runs SET cancel_requested = true, updated_at = v_now, wake_at = LEAST(wake_at, v_now)
  WHERE run_id = op->>'runId';
  RETURN '{"ok": true, "due": true}';
END $$;

-- End a run at once; the fence moves on so its owner's next write is refused.
CREATE FUNCTION dirigent_op_terminate_run(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  bad jsonb := dirigent_check_live(op->>'runId');
  v_parent text;
BEGIN
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  UPDATE runs SET status = 'terminated', error_json = op->>'errorJson', owner = NULL, lease_expires_at = NULL,
    wake_at = NULL, fence = fence + 1, completed_at = v_now, updated_at = v_now
  WHERE run_id = op->>'runId'
  RETURNING parent_run_id INTO v_parent;
  IF v_parent IS NOT NULL THEN
    PERFORM dirigent_wake(v_parent, v_now);
    RETURN '{"ok": true, "due": true}';
  END IF;
  RETURN '{"ok": true}';
END $$;

-- One operation, by type. Later migrations replace this function to add operation types.
CREATE FUNCTION dirigent_apply_one(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  CASE op->>'type'
    WHEN 'createRun' THEN RETURN dirigent_create_run(op->'run', op->'claim');
    WHEN 'putEntry' THEN RETURN dirigent_op_put_entry(op);
    WHEN 'consumeSignal' THEN RETURN dirigent_op_consume_signal(op);
    WHEN 'startChild' THEN RETURN dirigent_op_start_child(op);
    WHEN 'suspendRun' THEN RETURN dirigent_op_suspend_run(op);
    WHEN 'releaseRun' THEN RETURN dirigent_op_release_run(op);
    WHEN 'completeRun' THEN RETURN dirigent_op_complete_run(op);
    WHEN 'deliverSignal' THEN RETURN dirigent_op_deliver_signal(op);
    WHEN 'requestCancel' THEN RETURN dirigent_op_request_cancel(op);
    WHEN 'terminateRun' THEN RETURN dirigent_op_terminate_run(op);
    ELSE RAISE EXCEPTION 'dirigent: unknown write operation "%"', op->>'type' USING ERRCODE = '22023';
  END CASE;
END $$;

-- A batch: lock the runs it names in one order (two batches touching the same runs then queue instead of
-- deadlocking), apply each operation in order, NOTIFY once if any run became due. Returns one result per
-- operation, in order.
CREATE FUNCTION dirigent_apply(ops jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  op jsonb;
  r jsonb;
  results jsonb[] := '{}';
  any_due boolean := false;
BEGIN
  PERFORM 1 FROM runs
  WHERE run_id IN (SELECT o->>'runId' FROM jsonb_array_elements(ops) AS o WHERE o ? 'runId')
  ORDER BY run_id
  FOR UPDATE;
  FOR op IN SELECT e.value FROM jsonb_array_elements(ops) WITH ORDINALITY AS e(value, i) ORDER BY e.i LOOP
    r := dirigent_apply_one(op);
    IF r->>'due' = 'true' THEN
      any_due := true;
    END IF;
    results := array_append(results, r - 'due');
  END LOOP;
  IF any_due THEN
    PERFORM pg_notify('dirigent_wakeup', current_schema());
  END IF;
  RETURN to_jsonb(results);
END $$;
