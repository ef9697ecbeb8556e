-- table_checksums: the small tables a lake carries beside the requests, each with its row count and a checksum.
-- params: none
-- returns:
--   name VARCHAR                     the table (price_card, models, model_aliases, prices, price_discounts)
--   rows BIGINT                      its rows
--   checksum HUGEINT                 sum over its rows of hash(the whole row)
--
-- A table is written again when its checksum differs from the manifest's (costlab/lake/export.py).
select 'price_card' as name, count(*)::BIGINT as rows, coalesce(sum(hash(t)), 0)::HUGEINT as checksum from price_card t
union all
select 'models', count(*)::BIGINT, coalesce(sum(hash(t)), 0)::HUGEINT from models t
union all
select 'model_aliases', count(*)::BIGINT, coalesce(sum(hash(t)), 0)::HUGEINT from model_aliases t
union all
select 'prices', count(*)::BIGINT, coalesce(sum(hash(t)), 0)::HUGEINT from prices t
union all
select 'price_discounts', count(*)::BIGINT, coalesce(sum(hash(t)), 0)::HUGEINT from price_discounts t
