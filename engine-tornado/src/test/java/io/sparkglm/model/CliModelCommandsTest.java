package io.sparkglm.model;

import io.sparkglm.backend.KvCacheType;
import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.cli.GlmCli;
import io.sparkglm.testing.SharedFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
        // 2 (K,V) * 3 layers * 2 kv heads * 32 dims * 2 bytes = 768; f32 twice that; q8_0: 2 blocks of 34 per row
        assertTrue(out.contains("f32 1.5 KiB per token (1536 bytes), f16 768 B per token (768 bytes), "
                + "q8_0 408 B per token (408 bytes)"), out);
        assertTrue(out.contains("memory plan:  CPU engine, 1,000 tokens x 1 sequence, f32 KV cache, prefill chunk 512"), out);
        // 1000 tokens -> 4 pages of 256 = 1024 tokens x 1536 bytes
        assertTrue(out.contains("off-heap: 1.5 KiB per token x 1,000 tokens (whole pages) x 1"), out);
        assertTrue(out.contains("KV cache         1.5 MiB"), out);
        assertTrue(out.contains("fits:         yes"), out);
    }

    @Test
    void infoForThe1MModelConfigGives80KiBPerToken(@TempDir Path dir) throws Exception {
        Files.copy(SharedFiles.config1M(), dir.resolve("config.json"));
        Run run = glm("info", "--model", dir.toString(), "--context", "1048576");
        assertEquals(0, run.exitCode(), run.err());
        String out = run.out();
        assertTrue(out.contains("kv heads 4"), out);
        assertTrue(out.contains("rope base 1.00000e+08"), out);
        // 2 (K,V) x 40 layers x 512 (4 groups x 128) x 2 bytes = 80 KiB (FACTS.md); f32 doubles it
        assertTrue(out.contains("f32 160.0 KiB per token (163840 bytes), f16 80.0 KiB per token (81920 bytes), "
                + "q8_0 42.5 KiB per token (43520 bytes)"), out);
        assertTrue(out.contains("parameters:   9,483,857,920 (from the config)"), out);
        // torch_dtype bfloat16: 2 bytes per parameter (the published 18.97 GB)
        assertTrue(out.contains("weights:      17.7 GiB (18,967,715,840 bytes), estimated: bf16"), out);
        assertTrue(out.contains("KV cache       160.0 GiB"), out);   // f32, the engine's default
        ModelConfig chat = HfConfig.read(SharedFiles.configChat());
        assertEquals(40 * 1024, KvCacheType.F16.bytesPerToken(chat));
    }

    /** Q8_0 weights (9.4 GiB) and a 1M-token f16 cache (80 GiB): by hand, not in 64 GiB; in 141 GiB with room. */
    @Test
    void infoSaysWhereAMillionTokensFit(@TempDir Path dir) throws Exception {
        Files.copy(SharedFiles.config1M(), dir.resolve("config.json"));
        Run run = glm("info", "--model", dir.toString(), "--context", "1048576", "--kv-cache", "f16",
                "--weights-type", "q8_0", "--memory", "64g", "--threads", "4");
        assertEquals(0, run.exitCode(), run.err());
        String out = run.out();
        // matrices 9,483,321,344 x 34/32 + 536,576 f32 norms and biases
        assertTrue(out.contains("weights:      9.4 GiB (10,078,175,232 bytes), estimated: q8_0"), out);
        assertTrue(out.contains("KV cache        80.0 GiB"), out);
        assertTrue(out.contains("memory:       64.0 GiB (68719476736 bytes), from --memory"), out);
        assertTrue(out.contains("fits:         no: needs 90."), out);
        // (64 GiB - 9.4 GiB weights - 0.5 GiB headroom - ~0.7 GiB heap) / 80 KiB: about 700K tokens
        int largest = Integer.parseInt(out.replaceAll("(?s).*largest context that fits: ([0-9,]+) tokens.*", "$1").replace(",", ""));
        assertTrue(largest > 690_000 && largest < 710_000, "largest " + largest);
        //                          f32 (160 GiB)  f16 (80 GiB)  q8_0 (42.5 GiB)
        assertEquals(List.of("no", "no", "no"), verdicts(out, "CPU 24 GiB"));
        assertEquals(List.of("no", "no", "yes"), verdicts(out, "CPU 64 GiB"));
        assertEquals(List.of("no", "yes", "yes"), verdicts(out, "CPU 128 GiB"));
        assertEquals(List.of("no", "no", "yes"), verdicts(out, "GPU 80 GiB"));
        assertEquals(List.of("no", "yes", "yes"), verdicts(out, "GPU 141 GiB"));
        assertTrue(out.contains("CPU 64 GiB   no, 3"), out);    // f32 in 64 GiB: ~350K tokens
    }

    /**
     * The tornado backend's device plan: Q8_0 weights (9.4 GiB) + a 1M-token f16 cache (80 GiB) + step buffers fit
     * 141 GiB; in 80 GiB the plan names the numbers and what fits instead. Only the cache grows with the context.
     */
    @Test
    void infoPlansTheTornadoDeviceAndSaysWhatFits(@TempDir Path dir) throws Exception {
        Files.copy(SharedFiles.config1M(), dir.resolve("config.json"));
        Run h200 = glm("info", "--model", dir.toString(), "--backend", "tornado", "--context", "1048576",
                "--kv-cache", "f16", "--weights-type", "q8_0", "--memory", "141g");
        assertEquals(0, h200.exitCode(), h200.err());
        String out = h200.out();
        assertTrue(out.contains("memory plan:  tornado backend, 1,048,576 tokens x 1 sequence, f16 KV cache"), out);
        assertTrue(out.contains("KV cache        80.0 GiB  80.0 KiB per token x 1,048,576 tokens x 1; 80 arrays of 1.0 GiB"), out);
        assertTrue(out.contains("RoPE angles     64.0 KiB"), out);                     // 256 tokens x 64 floats
        assertTrue(out.contains("fits:         yes"), out);
        assertTrue(out.contains("largest context that fits: 1,048,576 tokens per sequence (batch 1), the model's whole context"), out);

        Run h100 = glm("info", "--model", dir.toString(), "--backend", "tornado", "--context", "1048576",
                "--kv-cache", "f16", "--weights-type", "q8_0", "--memory", "80g");
        String no = h100.out();
        assertTrue(no.contains("fits:         no: 1 sequence x 1,048,576 tokens with a f16 KV cache need 89.5 GiB on the device "
                + "(weights 9.4 GiB + KV cache 80.0 GiB"), no);
        // (80 GiB - 9.4 GiB - step buffers) / 80 KiB per token
        int largest = Integer.parseInt(no.replaceAll("(?s).*what fits: ([0-9,]+) tokens per sequence.*", "$1").replace(",", ""));
        long perToken = KvCacheType.F16.bytesPerToken(HfConfig.read(SharedFiles.config1M()));
        assertTrue(Math.abs(largest - (80L * (1 << 30) - 10_078_175_232L - 125_000_000L) / perToken) < 2_000, "largest " + largest);
        assertNotEquals(0, glm("info", "--model", dir.toString(), "--backend", "gpu").exitCode());
    }

    /** "yes" or "no" per KV type (f32, f16, q8_0) in the table row of {@code place}. */
    static List<String> verdicts(String out, String place) {
        String line = out.lines().filter(l -> l.startsWith("  " + place + " ")).findFirst().orElseThrow(() -> new AssertionError(out));
        return java.util.Arrays.stream(line.substring(2 + place.length()).strip().split(" {2,}"))
                .map(cell -> cell.startsWith("yes") ? "yes" : cell.startsWith("no") ? "no" : cell).toList();
    }

    @Test
    void infoPlansThisJvmByDefaultAndRefusesNonsense(@TempDir Path dir) throws Exception {
        Files.copy(SharedFiles.configChat(), dir.resolve("config.json"));
        Run run = glm("info", "--model", dir.toString(), "--context", "4096", "--memory", "512m");
        assertTrue(run.out().contains("fits:         no: needs"), run.out());
        Run jvm = glm("info", "--model", dir.toString(), "--context", "4096");
        assertTrue(jvm.out().contains("this JVM: machine memory"), jvm.out());
        assertTrue(jvm.out().contains("of it the heap limit " + MemoryEstimate.human(Runtime.getRuntime().maxMemory())), jvm.out());
        assertEquals(2, glm("info", "--model", dir.toString(), "--memory", "20x").exitCode());
        Run kv = glm("info", "--model", dir.toString(), "--kv-cache", "q4");
        assertNotEquals(0, kv.exitCode());
        assertTrue(kv.err().contains("unknown KV cache type 'q4' (known: f32, f16, q8_0)"), kv.err());
        assertNotEquals(0, glm("info", "--model", dir.toString(), "--weights-type", "q5_k").exitCode());
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

        // more rows than the copied tokens: padded as llama.cpp's converter pads, unless asked not to
        Path padded = dir.resolve("padded.gguf"), unpadded = dir.resolve("unpadded.gguf");
        for (Path p : List.of(padded, unpadded)) {
            Run r = glm("make-tiny", "--out", p.toString(), "--hidden", "64", "--layers", "1", "--ffn", "96", "--vocab", "512",
                    "--vocab-from", SharedFiles.tinyF32().toString(), p == padded ? "--pad-vocab" : "--no-pad-vocab");
            assertEquals(0, r.exitCode(), r.err());
        }
        try (GgufFile p = GgufFile.open(padded); GgufFile u = GgufFile.open(unpadded); GgufFile o = GgufFile.open(SharedFiles.tinyF32())) {
            List<String> tokens = p.getStringList("tokenizer.ggml.tokens");
            int[] types = p.getIntArray("tokenizer.ggml.token_type");
            assertEquals(512, tokens.size());
            assertEquals(512, types.length);
            assertEquals(o.getStringList("tokenizer.ggml.tokens"), tokens.subList(0, 384));
            assertArrayEquals(o.getIntArray("tokenizer.ggml.token_type"), java.util.Arrays.copyOf(types, 384));
            assertEquals("[PAD384]", tokens.get(384));
            assertEquals(5, types[511], "padding is UNUSED");
            assertEquals(384, u.getStringList("tokenizer.ggml.tokens").size());
        }
        assertTrue(glm("info", "--model", padded.toString()).out().contains("vocab 512"));

        Run bad = glm("make-tiny", "--out", dir.resolve("x.gguf").toString(), "--hidden", "48", "--type", "q8_0");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("multiples of 32"), bad.err());
    }
}
