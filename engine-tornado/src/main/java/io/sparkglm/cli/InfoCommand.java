package io.sparkglm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** PLACEHOLDER: replaced by its owner's implementation. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "(not built yet)")
final class InfoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("glm info: not built yet");
        return 2;
    }
}
