-- The quality of a completed blueprint, as the quality checks scored it (issue 5).
-- Both columns stay NULL until the blueprint is completed (and for blueprints completed
-- before this migration). `quality_score` (0–100) is there to sort and filter on;
-- `quality_json` holds the whole verdict: {"score", "passed", "failed", "checks": [...]}.
ALTER TABLE blueprints ADD COLUMN quality_score INTEGER;
ALTER TABLE blueprints ADD COLUMN quality_json TEXT;
