-- bin/spark-sql --conf spark.glm.model=/models/glm-4-9b-chat-1m.Q8_0.gguf -f examples/sql/summarize.sql
-- (bin/demo writes examples/target/demo/docs.parquet; point the path at your own Parquet files.)
SET spark.glm.maxNewTokens=64;
SET spark.glm.longDocumentPolicy=truncate;

CREATE OR REPLACE TEMPORARY VIEW docs USING parquet OPTIONS (path 'examples/target/demo/docs.parquet');

SELECT id, glm_count_tokens(text) AS tokens FROM docs ORDER BY id LIMIT 5;

SELECT id, r.finish_reason, r.prompt_tokens, r.completion_tokens, r.truncated, r.text AS summary
FROM (SELECT id, glm_summarize_result(text, 40) AS r FROM docs WHERE id <= 4)
ORDER BY id;

SELECT glm_generate('Name three things a maintenance log should record.',
                    map('system', 'Answer in one short line.', 'max_tokens', '24')) AS answer;
