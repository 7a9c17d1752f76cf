package io.sparkglm.cli;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Prints logits for raw token ids, one line per position, in the oracle's format. */
@Command(name = "logits", mixinStandardHelpOptions = true,
        description = "Print the logits of the last position (or every position) for raw token ids.")
final class LogitsCommand implements Callable<Integer> {

    @Spec CommandSpec spec;
    @Mixin BackendArgs backendArgs;

    @Option(names = "--ids", required = true, description = "Token ids, separated by spaces or commas.")
    String ids;

    @Option(names = "--all-positions", description = "Print every position, not only the last.")
    boolean allPositions;

    @Option(names = "--prefill-chunk", defaultValue = "0",
            description = "Feed the prompt in chunks of K tokens (0 = all at once); logits are the same either way.")
    int prefillChunk;

    @Override
    public Integer call() {
        int[] tokens = TokenIds.parse(ids);
        PrintWriter out = spec.commandLine().getOut();
        try (Checkpoint checkpoint = ModelLoader.open(backendArgs.model);
             Backend backend = backendArgs.open(checkpoint);
             SequenceCache cache = backend.newSequence(tokens.length)) {
            int vocab = checkpoint.config().vocabSize();
            int chunk = prefillChunk > 0 ? prefillChunk : tokens.length;
            for (int from = 0; from < tokens.length; from += chunk) {
                int[] part = Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + chunk));
                boolean lastChunk = from + part.length == tokens.length;
                float[] logits = backend.forward(java.util.List.of(new Step(cache, part, allPositions))).getFirst();
                int rows = allPositions ? part.length : 1;
                if (allPositions || lastChunk) {
                    for (int r = 0; r < rows; r++) printRow(out, logits, r * vocab, vocab);
                }
            }
        }
        out.flush();
        return 0;
    }

    private static void printRow(PrintWriter out, float[] logits, int offset, int n) {
        StringBuilder line = new StringBuilder(n * 12);
        for (int i = 0; i < n; i++) {
            if (i > 0) line.append(' ');
            line.append(logits[offset + i]);
        }
        out.println(line);
    }
}
