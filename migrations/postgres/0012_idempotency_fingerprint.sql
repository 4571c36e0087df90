-- What a keyed request asked, as a SHA-256 of its content: the same key
-- sent again with the same content is answered as before; with another
-- content it is refused (as the IETF's Idempotency-Key draft has it),
-- never silently answered with the first request's result. Keys from
-- before this column have none and replay as before.
ALTER TABLE idempotency ADD COLUMN fingerprint TEXT;
