-- whatif_payloads: the complexity features read from stored request bodies: documents attached, conditional and multi-step wording (the per-request pass includes this when payloads hold rows).
-- params: none
-- returns:
--   source VARCHAR                        the request's source
--   request_id VARCHAR                    the request's id
--   documents INTEGER                     document blocks in the request
--   conditional BOOLEAN                   conditional wording (if, unless, otherwise, in case)
--   multistep BOOLEAN                     multi-step wording (first, then, step N, finally, afterwards)
--
-- Set-based over the stored bodies: one regex per flag, the document count only where the text
-- names a document at all; only requests with a flag go into the join's build side.
select source, request_id, documents, conditional, multistep from (
    select source, request_id,
           case when contains(j, '"document"')
                then len(regexp_extract_all(j, '"type"\s*:\s*"document"')) else 0 end::INTEGER as documents,
           regexp_matches(j, '(?i)\b(if|unless|otherwise|in case)\b') as conditional,
           regexp_matches(j, '(?i)\b(first|then|step \d|finally|afterwards)\b') as multistep
    from (select source, request_id, request_json::VARCHAR as j from payloads where request_json is not null))
where documents > 0 or conditional or multistep
