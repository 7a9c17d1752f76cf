package io.sparkglm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** PLACEHOLDER: replaced by its owner's implementation. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "(not built yet)")
final class GenerateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("glm generate: not built yet");
        return 2;
    }
}
