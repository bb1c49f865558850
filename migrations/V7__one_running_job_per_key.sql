-- Claims skip a job whose unique key has a running twin (one push per work
-- item at a time); this index makes that check a lookup.
CREATE INDEX jobs_unique_running_idx ON jobs (unique_key) WHERE unique_key IS NOT NULL AND state = 'running';
