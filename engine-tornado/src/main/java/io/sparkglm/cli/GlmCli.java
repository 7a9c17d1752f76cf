package io.sparkglm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code bin/glm}: the engine's command line. Each subcommand is one small class in this package. */
@Command(name = "glm", mixinStandardHelpOptions = true, version = "spark-glm 0.1.0",
        description = "GLM-4 inference engine: inspect models, tokenize, run and benchmark the forward pass.",
        subcommands = {
                InfoCommand.class,
                MakeTinyCommand.class,
                TokenizeCommand.class,
                DetokenizeCommand.class,
                BenchTokenizerCommand.class,
                LogitsCommand.class,
                GenerateCommand.class,
                BenchCommand.class,
                CommandLine.HelpCommand.class
        })
public final class GlmCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; errors from model files print as one line, not a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new GlmCli());
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("glm " + cmd.getCommandName() + ": " + ex.getMessage());
            if (Boolean.getBoolean("glm.debug")) ex.printStackTrace(cmd.getErr());
            return 1;
        });
        return cli;
    }
}
