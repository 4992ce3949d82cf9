-- Declarative workflow definitions, versioned per name; the source text is kept as deployed (as SQLite's 003).
CREATE TABLE definitions (
  name        TEXT COLLATE "C" NOT NULL,
  version     INTEGER NOT NULL,
  format      TEXT NOT NULL,
  source      TEXT NOT NULL,
  checksum    TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (name, version)
);

-- Deploy a definition as version latest + 1, unless the latest has the same checksum. Deploys of one name
-- are serialized by an advisory lock, so two nodes deploying at once cannot pick the same version.
CREATE FUNCTION dirigent_op_put_definition(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  latest record;
  v_version int := 1;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('dirigent:definition:' || current_schema() || ':' || (op->>'name')));
  SELECT version, checksum INTO latest FROM definitions WHERE name = op->>'name' ORDER BY version DESC LIMIT 1;
  IF FOUND THEN
    IF latest.checksum = op->>'checksum' THEN
      RETURN jsonb_build_object('ok', true, 'created', false, 'version', latest.version);
    END IF;
    v_version := latest.version + 1;
  END IF;
  INSERT INTO definitions (name, version, format, source, checksum, created_at)
  VALUES (op->>'name', v_version, op->>'format', op->>'source', op->>'checksum', dirigent_ms(op->>'now'));
  RETURN jsonb_build_object('ok', true, 'created', true, 'version', v_version);
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
    WHEN 'putDefinition' THEN RETURN dirigent_op_put_definition(op);
    ELSE RAISE EXCEPTION 'dirigent: unknown write operation "%"', op->>'type' USING ERRCODE = '22023';
  END CASE;
END $$;
