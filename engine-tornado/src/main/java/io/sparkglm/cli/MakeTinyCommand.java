package io.sparkglm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** PLACEHOLDER: replaced by its owner's implementation. */
@Command(name = "make-tiny", mixinStandardHelpOptions = true, description = "(not built yet)")
final class MakeTinyCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("glm make-tiny: not built yet");
        return 2;
    }
}
