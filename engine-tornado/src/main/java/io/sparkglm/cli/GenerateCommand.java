package io.sparkglm.cli;

import io.sparkglm.constrain.JsonConstraints;
import io.sparkglm.constrain.JsonGrammar;
import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.generate.SamplingParams;
import io.sparkglm.tokenizer.ChatMessage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Generates text (or ids) from a prompt, streaming it as it is made. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate from a prompt (text, optionally in the chat format) or raw token ids.")
final class GenerateCommand implements Callable<Integer> {

    @Spec CommandSpec spec;
    @Mixin BackendArgs backendArgs;

    @ArgGroup(multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = {"-p", "--prompt"}, required = true, description = "Prompt text.") String prompt;
        @Option(names = "--ids", required = true, description = "Raw prompt token ids.") String ids;
    }

    @Option(names = "--chat", description = "Wrap --prompt as one user turn in GLM-4's chat format.")
    boolean chat;

    @Option(names = "--system", description = "A system message (with --chat).")
    String system;

    @Option(names = {"-n", "--max-tokens"}, defaultValue = "128", description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens (0 = off).")
    int topK;

    @Option(names = "--min-p", defaultValue = "0", description = "Drop tokens below min-p times the top probability.")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1", description = "Repetition penalty over the last 64 tokens (1 = off).")
    float repeatPenalty;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed for sampling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", description = "Stop when this string is generated (repeatable).")
    List<String> stops = new ArrayList<>();

    @Option(names = "--print-ids", description = "Print the generated ids instead of text.")
    boolean printIds;

    @Option(names = "--ignore-eos", description = "Keep generating past stop tokens (as llama.cpp's --ignore-eos).")
    boolean ignoreEos;

    @Option(names = "--max-context", defaultValue = "0", description = "Context cap in tokens (0 = the model's).")
    int maxContext;

    @Option(names = "--json-schema", description = "Constrain the output to JSON of this JSON schema (file).")
    Path jsonSchema;

    @Option(names = "--ddl", description = "Constrain the output to a JSON object of these Spark DDL fields, e.g. \"name STRING, born DATE\".")
    String ddl;

    @Option(names = "--stats", description = "Print token counts and speed to stderr.")
    boolean stats;

    @Override
    public Integer call() {
        if (chat && input.ids != null) throw new IllegalArgumentException("--chat applies to --prompt, not --ids");
        if (system != null && !chat) throw new IllegalArgumentException("--system needs --chat");
        SamplingParams sampling = new SamplingParams(temperature, topK, topP, minP, repeatPenalty, seed);
        EngineOptions options = EngineOptions.defaults(backendArgs.model)
                .withBackend(backendArgs.backend).withThreads(backendArgs.threads)
                .withKvCacheType(backendArgs.kvCacheOption()).withMaxContext(maxContext).withDevice(backendArgs.device)
                .withMaxBatch(1);  // one request: "auto" sizes the KV cache for one sequence
        PrintWriter out = spec.commandLine().getOut();
        try (Engine engine = Engine.load(options)) {
            if (stats || options.kvCacheType().equals("auto")) {
                spec.commandLine().getErr().println("KV cache " + engine.kvCache().type() + " (" + engine.kvCache().reason() + ")");
                spec.commandLine().getErr().flush();
            }
            GenerationRequest request = request(engine, sampling).withStopStrings(stops).withIgnoreEos(ignoreEos);
            JsonGrammar grammar = grammar(engine);
            if (grammar != null) request = request.withConstraint(grammar.constraint(maxTokens));
            GenerationResult result = engine.submit(request, printIds ? null : (id, piece) -> {
                out.print(piece);
                out.flush();
            }).join();
            if (!result.ok()) throw new IllegalStateException(result.error());
            if (printIds) out.println(TokenIds.format(result.tokenIds()));
            else out.println();
            out.flush();
            if (stats) {
                spec.commandLine().getErr().printf("prompt %d tokens (%.1f tok/s), generated %d tokens (%.1f tok/s), finish: %s%n",
                        result.promptTokens(), perSecond(result.promptTokens(), result.prefillNanos()),
                        result.completionTokens(), perSecond(result.completionTokens(), result.decodeNanos()),
                        result.finishReason().sqlName());
            }
        }
        return 0;
    }

    /** The JSON grammar of --json-schema or --ddl, or null for free text. */
    private JsonGrammar grammar(Engine engine) {
        if (jsonSchema != null && ddl != null) throw new IllegalArgumentException("give --json-schema or --ddl, not both");
        if (ddl != null) return JsonConstraints.fromDdl(ddl, engine.tokenizer());
        if (jsonSchema == null) return null;
        try {
            return JsonConstraints.fromJsonSchema(Files.readString(jsonSchema), engine.tokenizer());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read --json-schema " + jsonSchema + ": " + e.getMessage());
        }
    }

    private GenerationRequest request(Engine engine, SamplingParams sampling) {
        if (input.ids != null) return GenerationRequest.ids(TokenIds.parse(input.ids), maxTokens, sampling);
        if (chat) {
            List<ChatMessage> messages = new ArrayList<>();
            if (system != null) messages.add(ChatMessage.system(system));
            messages.add(ChatMessage.user(input.prompt));
            return GenerationRequest.chat(messages, maxTokens, sampling);
        }
        return GenerationRequest.ids(engine.tokenizer().encode(input.prompt), maxTokens, sampling);
    }

    private static double perSecond(int tokens, long nanos) {
        return nanos <= 0 ? 0 : tokens * 1e9 / nanos;
    }
}
