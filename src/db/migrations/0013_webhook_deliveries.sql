-- Webhook deliveries are made when an event gets its public number (issue 6;
-- src/events/webhooks.ts, src/events/webhook-worker.ts).
--
-- Not at insert: an event's number (`seq`) is given by the sequencer after
-- its transaction commits (migration 0012), and a delivery carries that
-- number as its event id. Making the deliveries in the sequencer's own
-- transaction means an event is numbered and queued for every matching
-- webhook at once, or neither: none is lost in between, and none is queued
-- twice (unique (webhook_id, event_seq) would refuse it anyway).
create function storage.queue_webhook_deliveries() returns trigger language plpgsql as $$
declare
  queued integer;
begin
  insert into storage.webhook_deliveries (webhook_id, event_seq, event)
  select w.id, new.seq, storage.event_json(new)
  from storage.webhooks w
  where w.bucket_id = new.bucket_id and w.enabled
    and (cardinality(w.event_types) = 0 or new.type = any (w.event_types))
    and starts_with(coalesce(new.key, ''), w.prefix);
  get diagnostics queued = row_count;
  -- Wakes the delivery workers of every process at commit (one notification
  -- per transaction: Postgres folds identical ones).
  if queued > 0 then
    perform pg_notify('aerostore_webhooks', '');
  end if;
  return null;
end $$;

create trigger events_queue_webhook_deliveries
  after update of seq on storage.events
  for each row when (old.seq is null and new.seq is not null)
  execute function storage.queue_webhook_deliveries();

-- The dead-letter listing of a webhook (admin API), newest first.
create index webhook_deliveries_by_webhook on storage.webhook_deliveries (webhook_id, state, id);
