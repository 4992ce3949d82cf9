-- A paused schedule has no next fire time (resume computes one from its own time), as in SQLite's
-- sqlite-task-ops.ts: creating one paused or pausing one leaves next_fire_at NULL. Also clears the times
-- kept by pauses made before this rule.
UPDATE schedules SET next_fire_at = NULL WHERE paused;

CREATE OR REPLACE FUNCTION dirigent_op_create_schedule(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  s jsonb := op->'schedule';
  v_paused boolean := coalesce((s->>'paused')::boolean, false);
BEGIN
  INSERT INTO schedules (schedule_id, workflow, input_json, cron, timezone, overlap, catchup_window_ms, paused,
    next_fire_at, created_at, updated_at)
  VALUES (s->>'scheduleId', s->>'workflow', s->>'inputJson', s->>'cron', s->>'timezone', s->>'overlap',
    dirigent_ms(s->>'catchupWindowMs'), v_paused, CASE WHEN v_paused THEN NULL ELSE dirigent_ms(s->>'nextFireAt') END,
    dirigent_ms(s->>'createdAt'), dirigent_ms(s->>'updatedAt'))
  ON CONFLICT (schedule_id) DO NOTHING;
  IF FOUND THEN
    RETURN '{"ok": true, "created": true}';
  END IF;
  RETURN '{"ok": false, "code": "SCHEDULE_EXISTS"}';
END $$;

CREATE OR REPLACE FUNCTION dirigent_op_set_schedule_paused(op jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE schedules SET paused = (op->>'paused')::boolean,
    next_fire_at = CASE WHEN (op->>'paused')::boolean THEN NULL
      ELSE coalesce(dirigent_ms(op->>'nextFireAt'), next_fire_at) END,
    updated_at = dirigent_ms(op->>'now')
  WHERE schedule_id = op->>'scheduleId';
  IF FOUND THEN
    RETURN '{"ok": true}';
  END IF;
  RETURN '{"ok": false, "code": "SCHEDULE_NOT_FOUND"}';
END $$;
