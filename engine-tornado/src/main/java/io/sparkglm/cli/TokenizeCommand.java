package io.sparkglm.cli;

import io.sparkglm.tokenizer.ChatMessage;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code glm tokenize}: the ids of a text, space-separated on one line. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids of a text (specials in the text stay ordinary text).")
final class TokenizeCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF file, HF folder or bare tokenizer.model")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", description = "the text") String text;
        @Option(names = "--file", description = "a UTF-8 file holding the text") Path file;
    }

    @Option(names = "--chat", description = "wrap the text as one user message of GLM-4's chat prompt, with the generation prompt")
    boolean chat;

    @Override
    public Integer call() throws Exception {
        GlmTokenizer tokenizer = GlmTokenizer.load(model);
        String text = input.text != null ? input.text : Files.readString(input.file, StandardCharsets.UTF_8);
        int[] ids = chat ? tokenizer.encodeChat(List.of(ChatMessage.user(text)), true) : tokenizer.encode(text, true);
        spec.commandLine().getOut().println(IntStream.of(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
