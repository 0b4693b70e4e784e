-- Each trade row names the Kafka record it came from (its partition and offset in the trades
-- topic), as the CDC raw tables do, so `cdcctl trace trade` goes from a row to its record and
-- back. Rows written before this migration keep -1 in both.
ALTER TABLE analytics.trades
    ADD COLUMN IF NOT EXISTS partition Int32 DEFAULT -1,
    ADD COLUMN IF NOT EXISTS offset Int64 DEFAULT -1;
