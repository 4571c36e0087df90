-- The promised completion date as it stood when a document was issued: an
-- acceptance notice states it even if the filing is paused before the
-- notice is typeset. NULL for documents issued before this column.
ALTER TABLE documents ADD COLUMN due_on TEXT;
