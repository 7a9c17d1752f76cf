package io.sparkglm.cli;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.GgufFile;
import io.sparkglm.model.TinyModels;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code glm make-tiny}: writes a random GLM-4 model of chosen shape (GGUF or Hugging Face folder), or
 * with {@code --from} rewrites a GGUF's weights as a Hugging Face folder so both loaders can be compared.
 */
@Command(name = "make-tiny", mixinStandardHelpOptions = true,
        description = "Write a random GLM-4 model (GGUF or Hugging Face folder), or convert a GGUF with --from.")
final class MakeTinyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--out", required = true, description = "Output .gguf file or folder.")
    Path out;

    @Option(names = "--format", defaultValue = "gguf", description = "gguf or hf (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--from", description = "Write this GGUF's weights as a Hugging Face folder (quantized -> F32, exact).")
    Path from;

    @Option(names = "--hidden", defaultValue = "128") int hidden;
    @Option(names = "--layers", defaultValue = "3") int layers;
    @Option(names = "--heads", defaultValue = "4") int heads;
    @Option(names = "--kv-heads", defaultValue = "2") int kvHeads;
    @Option(names = "--ffn", defaultValue = "288") int ffn;
    @Option(names = "--vocab", description = "Embedding rows (default: 384, or the token count of --vocab-from).") Integer vocab;
    @Option(names = "--rope-base", defaultValue = "5e6") double ropeBase;
    @Option(names = "--context", defaultValue = "131072") int context;
    @Option(names = "--type", defaultValue = "f32", description = "2-D weight type: f32, f16, bf16, q8_0, q5_1, q5_0 (gguf only).") String type;
    @Option(names = "--seed", defaultValue = "1") long seed;
    @Option(names = "--shards", defaultValue = "1", description = "Safetensors shards for --format hf.") int shards;
    @Option(names = "--vocab-from", description = "Copy tokenizer.ggml.* from this GGUF (e.g. the oracle's tiny model).") Path vocabFrom;
    @Option(names = "--pad-vocab", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "With --vocab-from and more --vocab rows than tokens: pad the token list with [PADn] (UNUSED) "
                    + "to the rows, as llama.cpp's converter does (llama.cpp refuses other files). --no-pad-vocab keeps "
                    + "it short, like the real model's tokenizer.model (151,343 tokens, 151,552 rows).")
    boolean padVocab;
    @Option(names = "--tokenizer", description = "A tokenizer.model to copy into a Hugging Face output folder.") Path tokenizer;

    @Override
    public Integer call() throws Exception {
        var stdout = spec.commandLine().getOut();
        String fmt = format.toLowerCase(Locale.ROOT);
        if (!fmt.equals("gguf") && !fmt.equals("hf")) throw new ParameterException(spec.commandLine(), "--format must be gguf or hf: " + format);
        if (from != null) {
            TinyModels.ggufToHf(from, out, shards, tokenizer);
            stdout.println("wrote " + out + " (Hugging Face folder, weights of " + from + ")");
            return 0;
        }
        GgmlType weightType = switch (type.toLowerCase(Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "bf16" -> GgmlType.BF16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q5_1" -> GgmlType.Q5_1;
            case "q5_0" -> GgmlType.Q5_0;
            default -> throw new ParameterException(spec.commandLine(), "--type must be f32, f16, bf16, q8_0, q5_1 or q5_0: " + type);
        };
        int rows = vocab != null ? vocab : vocabFrom != null ? tokenCount(vocabFrom) : 384;
        var tiny = new TinyModels.Spec(hidden, layers, heads, kvHeads, ffn, rows, ropeBase, weightType, seed, context);
        try {
            tiny.config();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (fmt.equals("gguf")) {
            if (tokenizer != null) throw new ParameterException(spec.commandLine(), "--tokenizer is for --format hf; use --vocab-from for GGUF");
            TinyModels.writeGguf(tiny, out, vocabFrom, padVocab);
        } else {
            TinyModels.writeHf(tiny, out, shards, tokenizer);
        }
        stdout.println("wrote " + out + " (" + fmt + ", " + weightType + ", seed " + seed + ")");
        return 0;
    }

    private static int tokenCount(Path gguf) {
        try (GgufFile f = GgufFile.open(gguf)) {
            return f.getStringList("tokenizer.ggml.tokens").size();
        }
    }
}
