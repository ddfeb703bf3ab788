-- A single expression (no sub-select) lets the planner inline the function
-- into the listing walk instead of calling it through the SQL-function
-- executor at every step.
create or replace function storage.common_prefix(k text, p text, d text) returns text
language sql immutable parallel safe as $$
  select case
    when d = '' or strpos(substr(k, length(p) + 1), d) = 0 then null
    else left(k, length(p) + strpos(substr(k, length(p) + 1), d) + length(d) - 1)
  end
$$;
