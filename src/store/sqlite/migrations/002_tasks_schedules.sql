-- Tasks: steps handed to a queue for remote workers (any language, over HTTP). task_id = "<runId>:<seq>".
CREATE TABLE tasks (
  task_id                 TEXT PRIMARY KEY,
  queue                   TEXT NOT NULL,
  run_id                  TEXT NOT NULL,
  seq                     INTEGER NOT NULL,
  name                    TEXT NOT NULL,
  input_json              TEXT,
  priority                INTEGER NOT NULL DEFAULT 0,
  -- queued | leased | completed | failed | cancelled
  status                  TEXT NOT NULL,
  attempt                 INTEGER NOT NULL DEFAULT 0,
  retry_json              TEXT NOT NULL,
  available_at            INTEGER NOT NULL,
  lease_token             INTEGER NOT NULL DEFAULT 0,
  worker_id               TEXT,
  lease_expires_at        INTEGER,
  schedule_to_start_at    INTEGER,
  start_to_close_ms       INTEGER NOT NULL,
  heartbeat_timeout_ms    INTEGER,
  traceparent             TEXT,
  last_error_json         TEXT,
  created_at              INTEGER NOT NULL,
  started_at              INTEGER,
  updated_at              INTEGER NOT NULL
);
CREATE INDEX tasks_ready ON tasks (queue, priority DESC, available_at) WHERE status = 'queued';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'leased';
CREATE INDEX tasks_to_start ON tasks (schedule_to_start_at) WHERE status = 'queued' AND schedule_to_start_at IS NOT NULL;
CREATE INDEX tasks_run ON tasks (run_id);

-- Per-queue limits and the token bucket of the rate limit.
CREATE TABLE queues (
  queue          TEXT PRIMARY KEY,
  concurrency    INTEGER,
  rate_per_s     REAL,
  tokens         REAL NOT NULL DEFAULT 0,
  tokens_at      INTEGER NOT NULL DEFAULT 0
);

-- Workers seen polling, for "connected workers".
CREATE TABLE workers (
  queue         TEXT NOT NULL,
  worker_id     TEXT NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  PRIMARY KEY (queue, worker_id)
) WITHOUT ROWID;

-- Cron schedules. next_fire_at is advanced with compare-and-set so each due time fires once per cluster.
CREATE TABLE schedules (
  schedule_id        TEXT PRIMARY KEY,
  workflow           TEXT NOT NULL,
  input_json         TEXT,
  cron               TEXT NOT NULL,
  timezone           TEXT NOT NULL,
  overlap            TEXT NOT NULL,
  catchup_window_ms  INTEGER NOT NULL,
  paused             INTEGER NOT NULL DEFAULT 0,
  next_fire_at       INTEGER,
  last_fire_at       INTEGER,
  last_run_id        TEXT,
  buffered_fire_at   INTEGER,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0;
