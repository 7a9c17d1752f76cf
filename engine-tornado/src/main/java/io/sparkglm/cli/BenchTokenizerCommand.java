package io.sparkglm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** PLACEHOLDER: replaced by its owner's implementation. */
@Command(name = "bench-tokenizer", mixinStandardHelpOptions = true, description = "(not built yet)")
final class BenchTokenizerCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("glm bench-tokenizer: not built yet");
        return 2;
    }
}
