-- A paused schedule has no next fire time (resume computes one from its own time): clear the ones kept by
-- pauses made before this rule.
UPDATE schedules SET next_fire_at = NULL WHERE paused = 1;
