package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class GlmSqlTest {

    @Test
    void splitsOnSemicolonsOutsideQuotesAndComments() {
        assertEquals(List.of("SET spark.glm.maxNewTokens=8", "SELECT glm_generate('a; b'), \"x;\"",
                        "SELECT 'it\\'s; fine'"),
                GlmSql.statements("SET spark.glm.maxNewTokens=8;\n SELECT glm_generate('a; b'), \"x;\" -- no; really\n;"
                        + "-- a comment; with semicolons\nSELECT 'it\\'s; fine';;"));
    }
}
