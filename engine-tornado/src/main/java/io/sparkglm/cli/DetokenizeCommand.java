package io.sparkglm.cli;

import io.sparkglm.tokenizer.GlmTokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code glm detokenize}: the text of ids (specials print as their names). */
@Command(name = "detokenize", mixinStandardHelpOptions = true, description = "Print the text of token ids.")
final class DetokenizeCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF file, HF folder or bare tokenizer.model")
    Path model;

    @Option(names = "--ids", required = true, description = "ids separated by spaces or commas, e.g. \"9703 11 1879 0\"")
    String ids;

    @Override
    public Integer call() {
        int[] parsed;
        try {
            String trimmed = ids.replaceAll("[\\[\\]]", "").trim();
            parsed = trimmed.isEmpty() ? new int[0] : Arrays.stream(trimmed.split("[\\s,]+")).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--ids must be integers separated by spaces or commas: " + e.getMessage());
        }
        GlmTokenizer tokenizer = GlmTokenizer.load(model);
        spec.commandLine().getOut().println(tokenizer.decode(parsed));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
