-- Task queues for remote workers, cron schedules, and retry of failed runs (as SQLite's 002).

-- Tasks: steps handed to a queue for remote workers (any language, over HTTP). task_id = "<runId>:<seq>".
CREATE TABLE tasks (
  task_id                 TEXT COLLATE "C" PRIMARY KEY,
  queue                   TEXT COLLATE "C" NOT NULL,
  run_id                  TEXT COLLATE "C" NOT NULL,
  seq                     INTEGER NOT NULL,
  name                    TEXT NOT NULL,
  input_json              TEXT,
  priority                INTEGER NOT NULL DEFAULT 0,
  -- queued | leased | completed | failed | cancelled
  status                  TEXT NOT NULL,
  attempt                 INTEGER NOT NULL DEFAULT 0,
  retry_json              TEXT NOT NULL,
  available_at            BIGINT NOT NULL,
  lease_token             BIGINT NOT NULL DEFAULT 0,
  worker_id               TEXT COLLATE "C",
  lease_expires_at        BIGINT,
  schedule_to_start_at    BIGINT,
  start_to_close_ms       BIGINT NOT NULL,
  heartbeat_timeout_ms    BIGINT,
  traceparent             TEXT,
  last_error_json         TEXT,
  created_at              BIGINT NOT NULL,
  started_at              BIGINT,
  updated_at              BIGINT NOT NULL
);
CREATE INDEX tasks_ready ON tasks (queue, priority DESC, available_at) WHERE status = 'queued';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'leased';
CREATE INDEX tasks_to_start ON tasks (schedule_to_start_at) WHERE status = 'queued' AND schedule_to_start_at IS NOT NULL;
CREATE INDEX tasks_run ON tasks (run_id);

-- Per-queue limits and the token bucket of the rate limit.
CREATE TABLE queues (
  queue          TEXT COLLATE "C" PRIMARY KEY,
  concurrency    INTEGER,
  rate_per_s     DOUBLE PRECISION,
  tokens         DOUBLE PRECISION NOT NULL DEFAULT 0,
  tokens_at      BIGINT NOT NULL DEFAULT 0
);

-- Workers seen polling, for "connected workers".
CREATE TABLE workers (
  queue         TEXT COLLATE "C" NOT NULL,
  worker_id     TEXT COLLATE "C" NOT NULL,
  last_seen_at  BIGINT NOT NULL,
  PRIMARY KEY (queue, worker_id)
);

-- Cron schedules. next_fire_at is advanced with compare-and-set so each due time fires once per cluster.
CREATE TABLE schedules (
  schedule_id        TEXT COLLATE "C" PRIMARY KEY,
  workflow           TEXT NOT NULL,
  input_json         TEXT,
  cron               TEXT NOT NULL,
  timezone           TEXT NOT NULL,
  overlap            TEXT NOT NULL,
  catchup_window_ms  BIGINT NOT NULL,
  paused             BOOLEAN NOT NULL DEFAULT false,
  next_fire_at       BIGINT,
  last_fire_at       BIGINT,
  last_run_id        TEXT,
  buffered_fire_at   BIGINT,
  created_at         BIGINT NOT NULL,
  updated_at         BIGINT NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused;

-- ---- Transitions -------------------------------------------------------------------------------------

-- Finishing a run (any way) cancels its open tasks: workers hear it on their next heartbeat.
CREATE FUNCTION dirigent_cancel_run_tasks(p_run_id text, p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tasks SET status = 'cancelled', updated_at = p_now
  WHERE run_id = p_run_id AND status IN ('queued', 'leased');
END $$;

CREATE OR REPLACE FUNCTION dirigent_op_complete_run(op jsonb) RETURNS jsonb
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
  PERFORM dirigent_cancel_run_tasks(op->>'runId', v_now);
  IF v_parent IS NOT NULL THEN
    PERFORM dirigent_wake(v_parent, v_now);
    RETURN '{"ok": true, "due": true}';
  END IF;
  RETURN '{"ok": true}';
END $$;

CREATE OR REPLACE FUNCTION dirigent_op_terminate_run(op jsonb) RETURNS jsonb
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
  PERFORM dirigent_cancel_run_tasks(op->>'runId', v_now);
  IF v_parent IS NOT NULL THEN
    PERFORM dirigent_wake(v_parent, v_now);
    RETURN '{"ok": true, "due": true}';
  END IF;
  RETURN '{"ok": true}';
END $$;

-- Put a failed run back to pending from its first failed step (undo entries live at seq >= 1e9).
CREATE FUNCTION dirigent_op_retry_run(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_run text := op->>'runId';
  v_now bigint := dirigent_ms(op->>'now');
  v_status text;
  v_from int;
BEGIN
  SELECT status INTO v_status FROM runs WHERE run_id = v_run FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"ok": false, "code": "RUN_NOT_FOUND"}';
  ELSIF v_status <> 'failed' THEN
    RETURN jsonb_build_object('ok', false, 'code', 'RUN_NOT_RETRYABLE', 'status', v_status);
  ELSIF EXISTS (SELECT 1 FROM journal WHERE run_id = v_run AND seq >= 1000000000 AND status = 'completed') THEN
    RETURN '{"ok": false, "code": "RUN_NOT_RETRYABLE"}';
  END IF;
  -- No failed entry (a nondeterminism or timeout failure): retry replays the whole recorded journal.
  SELECT coalesce(min(seq), 1000000000) INTO v_from FROM journal
  WHERE run_id = v_run AND status = 'failed' AND seq < 1000000000;
  DELETE FROM journal WHERE run_id = v_run AND seq >= v_from;
  DELETE FROM attempts WHERE run_id = v_run AND seq >= v_from;
  DELETE FROM tasks WHERE run_id = v_run AND seq >= v_from;
  UPDATE runs SET status = 'pending', error_json = NULL, output_json = NULL, completed_at = NULL,
    cancel_requested = false, deadline_at = NULL, owner = NULL, lease_expires_at = NULL, wake_at = v_now,
    updated_at = v_now
  WHERE run_id = v_run;
  RETURN '{"ok": true, "due": true}';
END $$;

-- Write the task's waiting journal entry and queue the task.
CREATE FUNCTION dirigent_op_schedule_task(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  t jsonb := op->'task';
  v_now bigint := dirigent_ms(op->'task'->>'now');
  v_fence bigint;
BEGIN
  SELECT fence INTO v_fence FROM runs WHERE run_id = op->>'runId' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"ok": false, "code": "RUN_NOT_FOUND"}';
  ELSIF v_fence IS DISTINCT FROM (op->>'fence')::bigint THEN
    RETURN '{"ok": false, "code": "STALE_FENCE"}';
  END IF;
  PERFORM dirigent_put_entry(op->>'runId', op->'entry');
  INSERT INTO tasks (task_id, queue, run_id, seq, name, input_json, priority, status, retry_json, available_at,
    schedule_to_start_at, start_to_close_ms, heartbeat_timeout_ms, traceparent, created_at, updated_at)
  VALUES (t->>'taskId', t->>'queue', t->>'runId', (t->>'seq')::int, t->>'name', t->>'inputJson',
    (t->>'priority')::numeric::int, 'queued', t->>'retryJson', v_now, dirigent_ms(t->>'scheduleToStartAt'),
    dirigent_ms(t->>'startToCloseMs'), dirigent_ms(t->>'heartbeatTimeoutMs'), t->>'traceparent', v_now, v_now)
  ON CONFLICT (task_id) DO NOTHING;
  RETURN jsonb_build_object('ok', true, 'queue', t->>'queue');
END $$;

-- A worker's outcome needs the task leased under its token and, unless the engine expires it itself,
-- a lease that has not run out (the engine may also expire a task that waited too long in the queue).
CREATE FUNCTION dirigent_check_task(t tasks, p_token bigint, p_now bigint, p_expired boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  IF t.task_id IS NULL THEN
    RETURN '{"ok": false, "code": "TASK_NOT_FOUND"}';
  ELSIF (t.status <> 'leased' AND NOT (p_expired AND t.status = 'queued'))
      OR t.lease_token IS DISTINCT FROM p_token THEN
    RETURN '{"ok": false, "code": "TASK_LEASE_EXPIRED"}';
  ELSIF NOT p_expired AND coalesce(t.lease_expires_at, 0) < p_now THEN
    RETURN '{"ok": false, "code": "TASK_LEASE_EXPIRED"}';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION dirigent_op_complete_task(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  t tasks;
  bad jsonb;
BEGIN
  SELECT * INTO t FROM tasks WHERE task_id = op->>'taskId' FOR UPDATE;
  bad := dirigent_check_task(t, (op->>'leaseToken')::bigint, v_now, false);
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  UPDATE tasks SET status = 'completed', lease_expires_at = NULL, updated_at = v_now WHERE task_id = t.task_id;
  UPDATE journal SET status = 'completed', attempt = t.attempt, result_json = op->>'resultJson', error_json = NULL,
    updated_at = v_now
  WHERE run_id = t.run_id AND seq = t.seq AND status = 'waiting';
  PERFORM dirigent_wake(t.run_id, v_now);
  RETURN jsonb_build_object('ok', true, 'queue', t.queue, 'due', true);
END $$;

-- A failed attempt: queued again for retryAt, or failed for good (the run's entry fails, the run wakes).
CREATE FUNCTION dirigent_op_fail_task(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  v_error text := op->>'errorJson';
  t tasks;
  bad jsonb;
BEGIN
  SELECT * INTO t FROM tasks WHERE task_id = op->>'taskId' FOR UPDATE;
  bad := dirigent_check_task(t, (op->>'leaseToken')::bigint, v_now, coalesce((op->>'expired')::boolean, false));
  IF bad IS NOT NULL THEN
    RETURN bad;
  END IF;
  INSERT INTO attempts (run_id, seq, attempt, started_at, ended_at, error_json, node)
  VALUES (t.run_id, t.seq, t.attempt, coalesce(t.started_at, v_now), v_now, v_error, t.worker_id)
  ON CONFLICT (run_id, seq, attempt) DO UPDATE SET started_at = excluded.started_at,
    ended_at = excluded.ended_at, error_json = excluded.error_json, node = excluded.node;
  IF op->>'retryAt' IS NOT NULL THEN
    UPDATE tasks SET status = 'queued', worker_id = NULL, lease_expires_at = NULL,
      available_at = dirigent_ms(op->>'retryAt'), last_error_json = v_error, updated_at = v_now
    WHERE task_id = t.task_id;
    UPDATE journal SET attempt = t.attempt, error_json = v_error, updated_at = v_now
    WHERE run_id = t.run_id AND seq = t.seq AND status = 'waiting';
    RETURN jsonb_build_object('ok', true, 'queue', t.queue);
  END IF;
  UPDATE tasks SET status = 'failed', lease_expires_at = NULL, last_error_json = v_error, updated_at = v_now
  WHERE task_id = t.task_id;
  UPDATE journal SET status = 'failed', attempt = t.attempt, result_json = NULL, error_json = v_error,
    updated_at = v_now
  WHERE run_id = t.run_id AND seq = t.seq AND status = 'waiting';
  PERFORM dirigent_wake(t.run_id, v_now);
  RETURN jsonb_build_object('ok', true, 'queue', t.queue, 'due', true);
END $$;

-- Extend a task's lease by its heartbeat timeout, never past its start-to-close limit.
CREATE FUNCTION dirigent_op_heartbeat_task(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := dirigent_ms(op->>'now');
  t tasks;
  v_until bigint;
  v_cancel boolean;
BEGIN
  SELECT * INTO t FROM tasks WHERE task_id = op->>'taskId' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"ok": false, "code": "TASK_NOT_FOUND"}';
  ELSIF t.status = 'cancelled' THEN
    RETURN '{"ok": true, "cancelRequested": true}';
  ELSIF t.status <> 'leased' OR t.lease_token IS DISTINCT FROM (op->>'leaseToken')::bigint
      OR NOT coalesce(t.lease_expires_at >= v_now, false) THEN
    RETURN '{"ok": false, "code": "TASK_LEASE_EXPIRED"}';
  END IF;
  v_until := LEAST(coalesce(t.started_at, 0) + t.start_to_close_ms,
    v_now + coalesce(t.heartbeat_timeout_ms, t.start_to_close_ms));
  UPDATE tasks SET lease_expires_at = v_until, updated_at = v_now WHERE task_id = t.task_id;
  SELECT cancel_requested INTO v_cancel FROM runs WHERE run_id = t.run_id;
  RETURN jsonb_build_object('ok', true, 'cancelRequested', coalesce(v_cancel, false), 'leaseExpiresAt', v_until);
END $$;

CREATE FUNCTION dirigent_op_set_queue_limits(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO queues (queue, concurrency, rate_per_s, tokens, tokens_at)
  VALUES (op->>'queue', (op->>'concurrency')::numeric::int, (op->>'ratePerSecond')::double precision, 0, 0)
  ON CONFLICT (queue) DO UPDATE SET concurrency = excluded.concurrency, rate_per_s = excluded.rate_per_s;
  RETURN jsonb_build_object('ok', true, 'queue', op->>'queue');
END $$;

CREATE FUNCTION dirigent_op_create_schedule(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  s jsonb := op->'schedule';
BEGIN
  INSERT INTO schedules (schedule_id, workflow, input_json, cron, timezone, overlap, catchup_window_ms, paused,
    next_fire_at, created_at, updated_at)
  VALUES (s->>'scheduleId', s->>'workflow', s->>'inputJson', s->>'cron', s->>'timezone', s->>'overlap',
    dirigent_ms(s->>'catchupWindowMs'), coalesce((s->>'paused')::boolean, false), dirigent_ms(s->>'nextFireAt'),
    dirigent_ms(s->>'createdAt'), dirigent_ms(s->>'updatedAt'))
  ON CONFLICT (schedule_id) DO NOTHING;
  IF FOUND THEN
    RETURN '{"ok": true, "created": true}';
  END IF;
  RETURN '{"ok": false, "code": "SCHEDULE_EXISTS"}';
END $$;

CREATE FUNCTION dirigent_op_set_schedule_paused(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE schedules SET paused = (op->>'paused')::boolean,
    next_fire_at = coalesce(dirigent_ms(op->>'nextFireAt'), next_fire_at), updated_at = dirigent_ms(op->>'now')
  WHERE schedule_id = op->>'scheduleId';
  IF FOUND THEN
    RETURN '{"ok": true}';
  END IF;
  RETURN '{"ok": false, "code": "SCHEDULE_NOT_FOUND"}';
END $$;

CREATE FUNCTION dirigent_op_delete_schedule(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM schedules WHERE schedule_id = op->>'scheduleId';
  IF FOUND THEN
    RETURN '{"ok": true}';
  END IF;
  RETURN '{"ok": false, "code": "SCHEDULE_NOT_FOUND"}';
END $$;

-- Compare-and-set: of several nodes that saw the same due time, exactly one advances it (the others wait
-- for its row lock, then see values that no longer match).
CREATE FUNCTION dirigent_op_advance_schedule(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE schedules SET next_fire_at = dirigent_ms(op->>'nextFireAt'),
    buffered_fire_at = dirigent_ms(op->>'bufferedFireAt'),
    last_fire_at = coalesce(dirigent_ms(op->>'lastFireAt'), last_fire_at),
    last_run_id = coalesce(op->>'lastRunId', last_run_id),
    updated_at = dirigent_ms(op->>'now')
  WHERE schedule_id = op->>'scheduleId'
    AND next_fire_at IS NOT DISTINCT FROM dirigent_ms(op->>'expectedNextFireAt')
    AND buffered_fire_at IS NOT DISTINCT FROM dirigent_ms(op->>'expectedBufferedFireAt');
  IF FOUND THEN
    RETURN '{"ok": true}';
  END IF;
  RETURN '{"ok": false, "code": "STALE_SCHEDULE"}';
END $$;

-- Lease ready tasks of a queue to a worker, highest priority first, within the queue's limits. The limits
-- are checked and the rate tokens spent under the queue row's lock, so nodes leasing at once cannot
-- exceed them together; SKIP LOCKED keeps two leasers from taking the same task.
CREATE FUNCTION dirigent_lease_tasks(p_queue text, p_worker text, p_limit int, p_now bigint) RETURNS SETOF tasks
LANGUAGE plpgsql AS $$
DECLARE
  q queues;
  has_limits boolean;
  v_limit int := p_limit;
  v_leased int;
  v_tokens double precision := 0;
BEGIN
  INSERT INTO workers (queue, worker_id, last_seen_at) VALUES (p_queue, p_worker, p_now)
  ON CONFLICT (queue, worker_id) DO UPDATE SET last_seen_at = excluded.last_seen_at;
  SELECT * INTO q FROM queues WHERE queue = p_queue FOR UPDATE;
  has_limits := FOUND;
  IF has_limits AND q.concurrency IS NOT NULL THEN
    SELECT count(*) INTO v_leased FROM tasks WHERE queue = p_queue AND status = 'leased';
    v_limit := LEAST(v_limit, q.concurrency - v_leased);
  END IF;
  IF has_limits AND q.rate_per_s IS NOT NULL THEN
    -- Token bucket holding at most one second's worth of tasks.
    v_tokens := LEAST(q.rate_per_s, q.tokens + ((p_now - q.tokens_at) / 1000.0) * q.rate_per_s);
    v_limit := LEAST(v_limit, floor(v_tokens)::int);
  END IF;
  IF v_limit <= 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
    WITH ready AS (
      SELECT task_id FROM tasks
      WHERE queue = p_queue AND status = 'queued' AND available_at <= p_now
      ORDER BY priority DESC, available_at, task_id
      LIMIT v_limit
      FOR UPDATE SKIP LOCKED
    ), leased AS (
      UPDATE tasks AS t SET status = 'leased', attempt = t.attempt + 1, lease_token = t.lease_token + 1,
        worker_id = p_worker, started_at = p_now, updated_at = p_now,
        lease_expires_at = p_now + LEAST(t.start_to_close_ms, coalesce(t.heartbeat_timeout_ms, t.start_to_close_ms))
      FROM ready WHERE t.task_id = ready.task_id
      RETURNING t.*
    )
    SELECT * FROM leased ORDER BY priority DESC, available_at, task_id;
  GET DIAGNOSTICS v_leased = ROW_COUNT;
  IF has_limits AND q.rate_per_s IS NOT NULL THEN
    UPDATE queues SET tokens = v_tokens - v_leased, tokens_at = p_now WHERE queue = p_queue;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION dirigent_apply_one(op jsonb) RETURNS jsonb
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
    WHEN 'retryRun' THEN RETURN dirigent_op_retry_run(op);
    WHEN 'scheduleTask' THEN RETURN dirigent_op_schedule_task(op);
    WHEN 'completeTask' THEN RETURN dirigent_op_complete_task(op);
    WHEN 'failTask' THEN RETURN dirigent_op_fail_task(op);
    WHEN 'heartbeatTask' THEN RETURN dirigent_op_heartbeat_task(op);
    WHEN 'setQueueLimits' THEN RETURN dirigent_op_set_queue_limits(op);
    WHEN 'createSchedule' THEN RETURN dirigent_op_create_schedule(op);
    WHEN 'setSchedulePaused' THEN RETURN dirigent_op_set_schedule_paused(op);
    WHEN 'deleteSchedule' THEN RETURN dirigent_op_delete_schedule(op);
    WHEN 'advanceSchedule' THEN RETURN dirigent_op_advance_schedule(op);
    ELSE RAISE EXCEPTION 'dirigent: unknown write operation "%"', op->>'type' USING ERRCODE = '22023';
  END CASE;
END $$;
