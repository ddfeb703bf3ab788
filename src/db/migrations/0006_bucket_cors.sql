-- A bucket's CORS rules (S3 PutBucketCors), as a JSON array of
-- { id, allowedOrigins, allowedMethods, allowedHeaders, exposeHeaders, maxAgeSeconds };
-- null when the bucket has no CORS configuration.
alter table storage.buckets add column cors jsonb;
