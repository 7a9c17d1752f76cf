package io.sparkglm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** bin/glm logits / generate / bench through the real command line. */
class EngineCommandsTest {

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cli = GlmCli.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private static String ids(int[] ids) {
        return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" "));
    }

    @Test
    void logitsPrintsTheOracleRowsForEveryPositionAndChunking() {
        int[] seq = Oracle.sequences().get(1);
        float[][] golden = Oracle.logits("f32", 1, "prefill");
        for (String chunk : List.of("0", "1", "3")) {
            Run r = run("logits", "--model", SharedFiles.tinyF32().toString(), "--ids", ids(seq), "--all-positions",
                    "--prefill-chunk", chunk, "--threads", "2");
            assertEquals(0, r.exit(), r.err());
            String[] lines = r.out().strip().split("\n");
            assertEquals(seq.length, lines.length);
            for (int p = 0; p < seq.length; p++) {
                double diff = Oracle.maxAbsDiff(Oracle.floats(lines[p]), golden[p]);
                assertTrue(diff <= 1e-4, "chunk " + chunk + " position " + p + ": " + diff);
            }
        }
        Run last = run("logits", "--model", SharedFiles.tinyF32().toString(), "--ids", ids(seq).replace(' ', ','));
        assertEquals(0, last.exit(), last.err());
        assertEquals(1, last.out().strip().split("\n").length, "without --all-positions only the last row");
    }

    /** --kv-cache q8_0 / auto on logits and generate; an unknown type is refused with the allowed ones. */
    @Test
    void kvCacheOptionTakesQ8_0AndAuto() {
        int[] seq = Oracle.sequences().get(1);
        float[][] golden = Oracle.logits("f32", 1, "prefill");
        Run q8 = run("logits", "--model", SharedFiles.tinyF32().toString(), "--ids", ids(seq), "--kv-cache", "q8_0",
                "--threads", "2");
        assertEquals(0, q8.exit(), q8.err());
        double diff = Oracle.maxAbsDiff(Oracle.floats(q8.out().strip()), golden[seq.length - 1]);
        // measured 0.019 (KvCacheExactnessTest bounds every row of every oracle sequence)
        assertTrue(diff > 0 && diff < 0.06, "q8_0 cache vs llama.cpp's f32 logits: " + diff);

        Run auto = run("generate", "--model", SharedFiles.tinyF32().toString(), "--ids", ids(Oracle.sequences().get(0)),
                "--max-tokens", "20", "--print-ids", "--ignore-eos", "--kv-cache", "auto", "--threads", "2");
        assertEquals(0, auto.exit(), auto.err());
        assertTrue(auto.err().contains("KV cache f32 (auto:"), auto.err());
        assertEquals(ids(Oracle.greedy("f32", 0)), auto.out().strip());

        Run bad = run("bench", "--model", SharedFiles.tinyF32().toString(), "--kv-cache", "q4_0", "-p", "8", "-n", "0");
        assertTrue(bad.exit() != 0);
        assertTrue(bad.err().contains("f32, f16, q8_0 or auto"), bad.err());
    }

    @Test
    void generatePrintsTheOracleGreedyIds() {
        for (int s = 0; s < 3; s++) {
            Run r = run("generate", "--model", SharedFiles.tinyQ8().toString(), "--ids", ids(Oracle.sequences().get(s)),
                    "--max-tokens", "20", "--temperature", "0", "--print-ids", "--ignore-eos");
            assertEquals(0, r.exit(), r.err());
            assertEquals(ids(Oracle.greedy("q8_0", s)), r.out().strip(), "seq" + s);
        }
    }

    @Test
    void generateFromAChatPromptStreamsText() {
        Run r = run("generate", "--model", SharedFiles.tinyF32().toString(), "--prompt", "hello there", "--chat",
                "--max-tokens", "8", "--seed", "3", "--temperature", "0.8", "--stats");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("generated"), r.err());
        Run again = run("generate", "--model", SharedFiles.tinyF32().toString(), "--prompt", "hello there", "--chat",
                "--max-tokens", "8", "--seed", "3", "--temperature", "0.8");
        assertEquals(r.out(), again.out(), "same seed, same text");
    }

    @Test
    void badArgumentsGetOneClearLine() {
        Run noModel = run("generate", "--model", "/nonexistent/model.gguf", "--ids", "1 2");
        assertEquals(1, noModel.exit());
        assertTrue(noModel.err().contains("/nonexistent/model.gguf"), noModel.err());
        Run badIds = run("logits", "--model", SharedFiles.tinyF32().toString(), "--ids", "1 x 3");
        assertEquals(1, badIds.exit());
        assertTrue(badIds.err().contains("'x' is not a token id"), badIds.err());
        Run outOfVocab = run("logits", "--model", SharedFiles.tinyF32().toString(), "--ids", "1 100000");
        assertEquals(1, outOfVocab.exit());
        assertTrue(outOfVocab.err().contains("100000"), outOfVocab.err());
        Run badBackend = run("logits", "--model", SharedFiles.tinyF32().toString(), "--ids", "1", "--backend", "gpu9");
        assertEquals(1, badBackend.exit());
        assertTrue(badBackend.err().contains("unknown backend 'gpu9'"), badBackend.err());
        Run tornado = run("logits", "--model", SharedFiles.tinyF32().toString(), "--ids", "1", "--backend", "tornado");
        assertEquals(1, tornado.exit());
        assertTrue(tornado.err().contains("TornadoVM"), tornado.err());
    }

    @Test
    void benchReportsPromptAndGenerationSpeed() {
        Run r = run("bench", "--model", SharedFiles.tinyQ8().toString(), "-p", "32", "-n", "8", "-b", "4", "-r", "1", "-t", "2");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().matches("(?s).*pp32 +[0-9.]+ ± [0-9.]+ tok/s.*"), r.out());
        assertTrue(r.out().matches("(?s).*tg8 +[0-9.]+ ± [0-9.]+ tok/s.*"), r.out());
        assertTrue(r.out().contains("x4 (batched, total)"), r.out());
        assertTrue(r.out().contains("rss"), r.out());
    }

    @Test
    void benchComparesKvCacheTypesAtADepth() {
        Run r = run("bench", "--model", SharedFiles.tinyF32().toString(), "-p", "16", "-n", "4", "-d", "600", "-r", "1",
                "-t", "2", "--kv-cache", "f32,q8_0");
        assertEquals(0, r.exit(), r.err());
        int f32 = r.out().indexOf("kv cache f32, depth 600"), q8 = r.out().indexOf("kv cache q8_0, depth 600");
        assertTrue(f32 >= 0 && q8 > f32, r.out());
        assertTrue(r.out().substring(q8).matches("(?s).*pp16 @ d600 +[0-9.]+ ± [0-9.]+ tok/s.*tg4 @ d600 +[0-9.]+ ± .*"), r.out());
        assertEquals(1, r.out().split("rss ", -1).length - 1, r.out());
    }
}
