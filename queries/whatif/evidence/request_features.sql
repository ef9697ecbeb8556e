-- whatif_request_features: the learned routing policy's features read from stored request bodies (the per-request pass includes this when a policy or fit asks for them and payloads hold rows).
-- params: none
-- returns:
--   source VARCHAR                        the request's source
--   request_id VARCHAR                    the request's id
--   user_turns INTEGER                    messages whose role is 'user' (conversation turns)
--   images INTEGER                        content blocks of type image (or image_url) in the messages
--   tools_offered BOOLEAN                 a non-empty `tools` list
--   structured BOOLEAN                    a structured-output request: output_format set, response_format of type
--                                         json_object/json_schema, or tool_choice forcing a tool (tool, function, any, required)
--   system_hash VARCHAR                   first 16 hex digits of sha256 of the system prompt's text (a string, or its text
--                                         blocks joined by newlines); NULL without a system prompt
--   prompt_text VARCHAR                   the text parts of the messages joined by newlines (costlab.routing.request_text)
--   cue_conditional BOOLEAN               costlab.routing.CONDITIONAL in prompt_text
--   cue_multistep BOOLEAN                 costlab.routing.MULTISTEP at least twice in prompt_text
--
-- Set-based over the stored bodies with DuckDB's JSON functions; costlab.routing computes the same
-- values from a request dict (one definition each, checked by tests/route/test_route_payload_features.py).
-- Requests without a stored body are not here: the pass's LEFT JOIN gives them 0 / false / NULL / ''.
-- The wording cues use the runtime's expressions; Python's \b counts any letter or digit as a word
-- character, RE2's only ASCII ones, so non-ASCII letters and digits are made 'x' first (the cue words
-- are ASCII).
select * exclude (cue_text),
       regexp_matches(cue_text, '(?i)\b(if|unless|otherwise|suppose|given that)\b') as cue_conditional,
       len(regexp_extract_all(cue_text, '(?i)\b(then|first|after|each|every|total|remaining|twice|half)\b')) >= 2 as cue_multistep
from (select *, regexp_replace(regexp_replace(prompt_text, '[^\x00-\x7F\PL]', 'x', 'g'), '[^\x00-\x7F\PN]', 'x', 'g') as cue_text
from (
select source, request_id,
       coalesce(len(list_filter(json_extract_string(j, '$.messages[*].role'), lambda r: r = 'user')), 0)::INTEGER as user_turns,
       coalesce(len(list_filter(json_extract_string(j, '$.messages[*].content[*].type'),
                                lambda t: t in ('image', 'image_url'))), 0)::INTEGER as images,
       coalesce(json_type(j, '$.tools') = 'ARRAY' and json_array_length(j, '$.tools') > 0, false) as tools_offered,
       coalesce(coalesce(json_type(j, '$.output_format'), 'NULL') <> 'NULL'
           or json_extract_string(j, '$.response_format.type') in ('json_object', 'json_schema')
           or (case json_type(j, '$.tool_choice') when 'VARCHAR' then json_extract_string(j, '$.tool_choice')
                                                  when 'OBJECT' then json_extract_string(j, '$.tool_choice.type') end)
              in ('tool', 'function', 'any', 'required'), false) as structured,
       left(sha256(nullif(case json_type(j, '$.system')
                when 'VARCHAR' then json_extract_string(j, '$.system')
                when 'ARRAY' then array_to_string(list_transform(
                    list_filter(json_extract(j, '$.system[*]'), lambda b: json_extract_string(b, '$.type') = 'text'),
                    lambda b: coalesce(json_extract_string(b, '$.text'), '')), chr(10)) end, '')), 16) as system_hash,
       coalesce(array_to_string(flatten(list_transform(json_extract(j, '$.messages[*].content'), lambda c:
           case json_type(c) when 'VARCHAR' then [json_extract_string(c, '$')]
                             when 'ARRAY' then list_transform(
                                 list_filter(json_extract(c, '$[*]'), lambda b: json_extract_string(b, '$.type') = 'text'),
                                 lambda b: coalesce(json_extract_string(b, '$.text'), ''))
                             else []::VARCHAR[] end)), chr(10)), '') as prompt_text
from (select source, request_id, request_json as j from payloads where request_json is not null)
))
