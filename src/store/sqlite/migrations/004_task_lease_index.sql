-- The lease query orders ready tasks by (priority DESC, available_at, task_id): with task_id in the
-- index the database reads the first rows in order instead of sorting every ready task of the queue.
DROP INDEX tasks_ready;
CREATE INDEX tasks_ready ON tasks (queue, priority DESC, available_at, task_id) WHERE status = 'queued';
