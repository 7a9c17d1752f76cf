package io.sparkglm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** PLACEHOLDER: replaced by its owner's implementation. */
@Command(name = "logits", mixinStandardHelpOptions = true, description = "(not built yet)")
final class LogitsCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("glm logits: not built yet");
        return 2;
    }
}
