package io.sparkglm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.testing.SharedFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** bin/glm tokenize / detokenize / bench-tokenizer through the real command line. */
class TokenizerCliTest {

    record Result(int exit, String out, String err) {}

    static Result run(String... args) {
        CommandLine cli = GlmCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Result(exit, out.toString(), err.toString());
    }

    @Test
    void tokenizeAndDetokenizeWithTheRealVocabulary(@TempDir Path tmp) throws Exception {
        String model = SharedFiles.realTokenizer().toString();
        Result r = run("tokenize", "--model", model, "--text", "Hello, world!");
        assertEquals(0, r.exit(), r.err());
        assertEquals("9703 11 1879 0", r.out().strip());
        Result chat = run("tokenize", "--model", SharedFiles.glm4().toString(), "--text", "hello", "--chat");
        assertEquals("151331 151333 151336 198 14978 151337", chat.out().strip());
        Path file = tmp.resolve("t.txt");
        Files.writeString(file, "你好");
        assertEquals("109377", run("tokenize", "--model", model, "--file", file.toString()).out().strip());
        Result d = run("detokenize", "--model", model, "--ids", "9703 11 1879 0");
        assertEquals(0, d.exit(), d.err());
        assertEquals("Hello, world!", d.out().strip());
    }

    @Test
    void tinyGgufAndErrors() {
        String gguf = SharedFiles.tinyF32().toString();
        Result r = run("tokenize", "--model", gguf, "--text", "<|user|>hi");
        assertEquals(0, r.exit(), r.err());
        assertTrue(!r.out().contains("363"), "specials in --text stay text: " + r.out());
        assertEquals("<|user|>hi", run("detokenize", "--model", gguf, "--ids", r.out().strip()).out().strip());
        Result bad = run("detokenize", "--model", gguf, "--ids", "1 x 2");
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("--ids"), bad.err());
        Result outOfRange = run("detokenize", "--model", gguf, "--ids", "999");
        assertEquals(1, outOfRange.exit());
        assertTrue(outOfRange.err().contains("999"), outOfRange.err());
        assertEquals(2, run("tokenize", "--model", gguf).exit(), "--text or --file is required");
    }

    @Test
    void benchReportsThroughput() {
        Result r = run("bench-tokenizer", "--model", SharedFiles.realTokenizer().toString(), "--size-mb", "1",
                "--threads", "2", "--runs", "1");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("MB/s") && r.out().contains("tokens/s") && r.out().contains("identical"), r.out());
    }
}
