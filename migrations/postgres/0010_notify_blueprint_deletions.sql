-- A deleted blueprint is announced too (the payload is its id), so that every process drops
-- it from its status cache (0001 announces only inserts and updates).
CREATE FUNCTION quizmaster_notify_blueprint_deleted() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('quizmaster_status', OLD.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER blueprints_notify_deleted
    AFTER DELETE ON blueprints
    FOR EACH ROW EXECUTE FUNCTION quizmaster_notify_blueprint_deleted();
