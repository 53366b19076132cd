-- Functions schema.hcl's indexes use, which Atlas 0.13 cannot declare: the
-- declarative apply (src/db/atlas.ts) runs this file first, and the migration
-- that introduced them holds the same statements.

-- An issue's search words, each prefixed with its project (the first 8 hex
-- digits of its uid), so one GIN index over them is per project: a lookup
-- reads that project's entries, not every project's (btree_gin's two-column
-- index intersected each word's entries across all projects). Positions are
-- dropped: ListIssues checks the words again on `search` itself. Lexemes too
-- long to carry the prefix are left out; a query (256 characters at most)
-- cannot hold one.
CREATE OR REPLACE FUNCTION issue_search_keys(project uuid, search tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN array_to_tsvector(ARRAY(
  SELECT left(project::text, 8) || lexeme FROM unnest(search) WHERE octet_length(lexeme) <= 2039
));

-- A websearch query in the words of issue_search_keys: every lexeme prefixed
-- by the project, phrase distances made plain AND (the keys hold no positions).
CREATE OR REPLACE FUNCTION issue_search_query(project uuid, query tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(
  regexp_replace(query::text, '''((?:[^'']|'''')*)''', '''' || left(project::text, 8) || '\1''', 'g'),
  '<(?:-|[0-9]+)>', '&', 'g'
)::tsquery;
