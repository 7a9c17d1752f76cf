package io.sparkglm.constrain;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkglm.cli.GlmCli;
import io.sparkglm.testing.SharedFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** bin/glm generate --json-schema / --ddl: the noise model's output is JSON of the schema. */
class GenerateJsonCliTest {

    static String run(String... args) {
        CommandLine cli = GlmCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        assertEquals(0, exit, err.toString());
        return out.toString().trim();
    }

    @Test
    void jsonSchemaAndDdlConstrainTheOutput(@TempDir Path dir) throws Exception {
        Path schema = dir.resolve("schema.json");
        Files.writeString(schema, """
                {"type": "object", "properties": {
                   "name": {"type": "string"}, "age": {"type": "integer"},
                   "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                   "born": {"type": "string", "format": "date"}}, "required": ["name"]}""");
        String model = SharedFiles.tinyF32().toString();
        JsonNode a = new ObjectMapper().readTree(run("generate", "-m", model, "--chat", "-p", "Extract: Ann, 31", "-n", "60",
                "--temperature", "1.5", "--seed", "4", "--json-schema", schema.toString()));
        assertEquals(java.util.List.of("name", "age", "tags", "born"), iterate(a));
        JsonNode b = new ObjectMapper().readTree(run("generate", "-m", model, "-p", "x", "-n", "30", "--temperature", "2",
                "--ddl", "ok BOOLEAN, n DOUBLE"));
        assertEquals(java.util.List.of("ok", "n"), iterate(b));
        assertTrue(b.get("ok").isBoolean() || b.get("ok").isNull());
    }

    private static java.util.List<String> iterate(JsonNode n) {
        java.util.List<String> names = new java.util.ArrayList<>();
        n.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
