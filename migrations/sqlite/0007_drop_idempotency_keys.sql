-- The web form's one-time keys are records of idempotency_requests now, like the API's
-- Idempotency-Key (one rule in the core; route 'generate_blueprint_form', scoped to the topic).
-- The older table they used goes; its keys lived a day.
DROP TABLE idempotency_keys;
