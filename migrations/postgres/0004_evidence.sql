-- The passage of the topic's source text each objective rests on (contract, "Additions
-- (December 2026)"): at most 300 characters, cut by the application before it is stored.
-- NULL when the topic has no source text, and for objectives stored before this migration.
ALTER TABLE terminal_objectives ADD COLUMN evidence TEXT;
ALTER TABLE enabling_objectives ADD COLUMN evidence TEXT;
