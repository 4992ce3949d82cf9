-- Runs: one row per run. Times are epoch milliseconds.
CREATE TABLE runs (
  run_id            TEXT PRIMARY KEY,
  workflow          TEXT NOT NULL,
  version           TEXT NOT NULL,
  status            TEXT NOT NULL,
  input_json        TEXT,
  output_json       TEXT,
  error_json        TEXT,
  parent_run_id     TEXT,
  parent_seq        INTEGER,
  owner             TEXT,
  fence             INTEGER NOT NULL DEFAULT 0,
  lease_expires_at  INTEGER,
  wake_at           INTEGER,
  cancel_requested  INTEGER NOT NULL DEFAULT 0,
  deadline_at       INTEGER,
  created_at        INTEGER NOT NULL,
  started_at        INTEGER,
  updated_at        INTEGER NOT NULL,
  completed_at      INTEGER
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
  run_id       TEXT NOT NULL,
  seq          INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  name         TEXT NOT NULL,
  status       TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  result_json  TEXT,
  error_json   TEXT,
  wake_at      INTEGER,
  detail_json  TEXT,
  started_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- Failed attempts of steps (the final successful attempt is on the journal row).
CREATE TABLE attempts (
  run_id      TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER NOT NULL,
  error_json  TEXT NOT NULL,
  node        TEXT,
  PRIMARY KEY (run_id, seq, attempt)
) WITHOUT ROWID;

-- Signals, buffered until a wait consumes them (in the order they arrived).
CREATE TABLE signals (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id        TEXT NOT NULL,
  name          TEXT NOT NULL,
  payload_json  TEXT,
  received_at   INTEGER NOT NULL,
  consumed_seq  INTEGER
);
CREATE INDEX signals_pending ON signals (run_id, name, id) WHERE consumed_seq IS NULL;
CREATE INDEX signals_run ON signals (run_id, id);
