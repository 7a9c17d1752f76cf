package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.cli.GlmCli;
import io.sparkglm.testing.SharedFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code glm info} and {@code glm make-tiny} through the real command line. */
class CliModelCommandsTest {

    record Run(int exitCode, String out, String err) {}

    static Run glm(String... args) {
        CommandLine cli = GlmCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void infoOnTheOracle() throws Exception {
        Run run = glm("info", "--model", SharedFiles.tinyQ8().toString(), "--context", "1000");
        assertEquals(0, run.exitCode(), run.err());
        String out = run.out();
        assertTrue(out.contains("layers 3, hidden 128, ffn 288, heads 4, kv heads 2, head dim 32, rope dims 16"), out);
        assertTrue(out.contains("rope base 5.00000e+06"), out);
        assertTrue(out.contains("tensors:      24 (F32 x10, Q8_0 x14)"), out);
        long params;
        try (Checkpoint cp = ModelLoader.open(SharedFiles.tinyQ8())) {
            params = cp.tensors().values().stream().mapToLong(WeightTensor::elementCount).sum();
        }
        assertTrue(out.contains(String.format(java.util.Locale.ROOT, "parameters:   %,d", params)), out);
        assertTrue(out.contains(Files.size(SharedFiles.tinyQ8()) + " bytes"), out);
        // 2 (K,V) * 3 layers * 2 kv heads * 32 dims * 2 bytes = 768; f32 twice that
        assertTrue(out.contains("f16/bf16 768 B per token (768 bytes), f32 1.5 KiB per token (1536 bytes)"), out);
        assertTrue(out.contains("context 1000:"), out);
    }

    @Test
    void infoForThe1MModelConfigGives80KiBPerToken(@TempDir Path dir) throws Exception {
        Files.copy(SharedFiles.glm4().resolve("config.glm-4-9b-chat-1m.json"), dir.resolve("config.json"));
        Run run = glm("info", "--model", dir.toString(), "--context", "1048576");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("kv heads 4"), run.out());
        assertTrue(run.out().contains("rope base 1.00000e+08"), run.out());
        assertTrue(run.out().contains("f16/bf16 80.0 KiB per token (81920 bytes)"), run.out());
        // 80 KiB * 1M tokens = 80 GiB (FACTS.md); f32 doubles it
        assertTrue(run.out().contains("KV only = 80.0 GiB with an f16 KV cache, 160.0 GiB with an f32 KV cache, 42.5 GiB with a q8_0 KV cache"), run.out());
        assertTrue(run.out().contains("q8_0 42.5 KiB per token (43520 bytes)"), run.out());
        ModelConfig chat = HfConfig.read(SharedFiles.glm4().resolve("config.glm-4-9b-chat.json"));
        assertEquals(40 * 1024, MemoryEstimate.kvBytesPerToken(chat, 2));
    }

    @Test
    void infoNamesWhatIsWrong(@TempDir Path dir) {
        Run run = glm("info", "--model", dir.resolve("absent.gguf").toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("expected a .gguf file or a Hugging Face folder"), run.err());
    }

    @Test
    void makeTinyThenInfoAndConvert(@TempDir Path dir) throws Exception {
        Path gguf = dir.resolve("m.gguf");
        Run made = glm("make-tiny", "--out", gguf.toString(), "--hidden", "64", "--layers", "2", "--heads", "4",
                "--kv-heads", "1", "--ffn", "96", "--rope-base", "1e8", "--type", "q8_0", "--seed", "5",
                "--vocab-from", SharedFiles.tinyF32().toString());
        assertEquals(0, made.exitCode(), made.err());
        Run info = glm("info", "--model", gguf.toString());
        assertTrue(info.out().contains("layers 2, hidden 64, ffn 96, heads 4, kv heads 1"), info.out());
        assertTrue(info.out().contains("vocab 384"), info.out());

        Path hf = dir.resolve("hf");
        Path tokenizer = Files.writeString(dir.resolve("tokenizer.model"), "IQ== 0\n");
        Run converted = glm("make-tiny", "--from", gguf.toString(), "--out", hf.toString(), "--format", "hf",
                "--shards", "2", "--tokenizer", tokenizer.toString());
        assertEquals(0, converted.exitCode(), converted.err());
        assertEquals("IQ== 0\n", Files.readString(hf.resolve("tokenizer.model")));
        try (Checkpoint a = ModelLoader.open(gguf); Checkpoint b = ModelLoader.open(hf)) {
            HfRoundTripTest.assertSameConfig(a.config(), b.config());
            WeightTensor q = a.tensor("blk.1.attn_qkv.weight"), f = b.tensor("blk.1.attn_qkv.weight");
            assertEquals(GgmlType.F32, f.type());
            int n = Math.toIntExact(q.elementCount());
            assertArrayEquals(Quantization.dequantize(GgmlType.Q8_0, q.data(), 0, n), f.data().toArray(ModelLoaderTest.F32), 0f);
        }

        Run bad = glm("make-tiny", "--out", dir.resolve("x.gguf").toString(), "--hidden", "48", "--type", "q8_0");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("multiples of 32"), bad.err());
    }
}
