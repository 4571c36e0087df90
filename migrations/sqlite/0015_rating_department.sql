-- A rating rates one department's service (谁审批谁监管): the one the
-- applicant names when several took part. Ratings before this name none
-- and count, as they did, for every department of their filing.
ALTER TABLE ratings ADD COLUMN department TEXT;
