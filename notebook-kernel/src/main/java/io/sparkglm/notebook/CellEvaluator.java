package io.sparkglm.notebook;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jdk.jshell.DeclarationSnippet;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.SourceCodeAnalysis.CompletionInfo;
import jdk.jshell.UnresolvedReferenceException;

/**
 * Evaluates notebook cells with JShell in this JVM. A cell is split into JShell snippets (statements,
 * declarations, expressions) and run in order; the first snippet that fails to compile or throws stops the cell
 * with a {@link CellError} that names the line of the cell. The value of the cell is the value of its last snippet
 * when that snippet is an expression, as in other notebook kernels.
 */
final class CellEvaluator implements AutoCloseable {

    /** What a cell evaluated to: {@code hasValue} is false when the cell ends in a statement or declaration. */
    record Outcome(Object value, boolean hasValue) {
        static final Outcome NONE = new Outcome(null, false);
    }

    /** Stack frames shown for the failing exception (its cause chain gets fewer): enough to find the call. */
    private static final int FRAMES = 12, CAUSE_FRAMES = 4;

    private final CellExecutionControl control = new CellExecutionControl();
    private final JShell shell;
    /** Snippet id -> its first line in the cell being run, to print stack frames as cell lines. */
    private final Map<String, Integer> snippetLines = new HashMap<>();

    /**
     * @param classPath the class path snippets compile against (this JVM's, so they also run against it)
     * @param imports   import statements run once, before the first cell
     */
    CellEvaluator(String classPath, List<String> imports) {
        shell = JShell.builder()
                .executionEngine(new CellExecutionControl.Provider(control), Map.of())
                .compilerOptions("-Xlint:none")
                .build();
        if (!classPath.isBlank()) shell.addToClasspath(classPath);
        for (String statement : imports) {
            try {
                eval(statement);
            } catch (CellError e) {
                throw new IllegalStateException("kernel startup: " + statement + " failed: " + e.getMessage());
            }
        }
    }

    Outcome eval(String cell) {
        snippetLines.clear();
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String remaining = cell;
        Outcome outcome = Outcome.NONE;
        while (true) {
            int start = cell.length() - remaining.length() + leadingBlanks(remaining);
            CompletionInfo info = analysis.analyzeCompletion(remaining);
            switch (info.completeness()) {
                case EMPTY -> { return outcome; }
                case DEFINITELY_INCOMPLETE, CONSIDERED_INCOMPLETE -> throw incomplete(cell, start);
                default -> { }
            }
            outcome = evalSnippet(cell, start, info.source());
            remaining = info.remaining();
        }
    }

    private Outcome evalSnippet(String cell, int start, String source) {
        control.clear();
        List<SnippetEvent> events = shell.eval(source);
        Outcome outcome = Outcome.NONE;
        for (SnippetEvent event : events) {
            if (event.causeSnippet() != null) continue; // a dependent snippet re-checked, not the one we ran
            Snippet snippet = event.snippet();
            snippetLines.put(snippet.id(), lineOf(cell, start));
            switch (event.status()) {
                case REJECTED -> throw compileError(cell, start, shell.diagnostics(snippet).toList());
                case RECOVERABLE_DEFINED, RECOVERABLE_NOT_DEFINED -> throw unresolved(cell, start, snippet);
                default -> { }
            }
            if (event.exception() != null) throw runtimeError(event.exception());
            boolean expression = snippet.kind() == Snippet.Kind.EXPRESSION
                    || snippet.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
            outcome = expression ? new Outcome(control.lastValue(), true) : Outcome.NONE;
        }
        return outcome;
    }

    /** Interrupts the running cell. */
    void interrupt() {
        control.stop();
    }

    @Override
    public void close() {
        shell.close();
    }

    // ---- errors, each pointing at the line of the cell ----

    private static CellError incomplete(String cell, int start) {
        int line = lineOf(cell, start);
        return new CellError("CompileError", "incomplete code from line " + line,
                List.of("Compile error: the code from line " + line + " on is incomplete (a missing ')', '}' or ';'?)",
                        "  " + line + " | " + lineText(cell, line)));
    }

    private static CellError compileError(String cell, int start, List<Diag> diagnostics) {
        List<String> lines = new ArrayList<>();
        String first = null;
        for (Diag d : diagnostics) {
            if (!d.isError()) continue;
            int position = start + (int) Math.max(0, d.getStartPosition());
            int line = lineOf(cell, position);
            String message = d.getMessage(Locale.ROOT);
            if (first == null) first = "line " + line + ": " + message.lines().findFirst().orElse("");
            lines.add("Compile error in line " + line + ":");
            lines.addAll(pointAt(cell, position));
            message.lines().forEach(l -> lines.add("  " + l));
        }
        if (first == null) first = "the snippet was rejected";
        return new CellError("CompileError", first, lines);
    }

    private CellError unresolved(String cell, int start, Snippet snippet) {
        int line = lineOf(cell, start);
        List<String> missing = snippet instanceof DeclarationSnippet declaration
                ? shell.unresolvedDependencies(declaration).toList() : List.of();
        String message = "line " + line + ": cannot find " + String.join(", ", missing);
        List<String> lines = new ArrayList<>();
        lines.add("Compile error in line " + line + ": cannot find symbol " + String.join(", ", missing));
        lines.add("  " + line + " | " + lineText(cell, line));
        return new CellError("CompileError", message, lines);
    }

    /**
     * JShell reports a snippet's exception as an {@link EvalException} chain that keeps each exception's class name
     * and message, with stacks cut below the cell and cell frames renamed to snippet lines ("#12", line 3).
     */
    private CellError runtimeError(JShellException reported) {
        return failure(reported);
    }

    /** An exception thrown while the kernel showed a cell's value (e.g. the Spark job behind a Dataset's table). */
    CellError displayError(Throwable thrown) {
        return failure(thrown);
    }

    private CellError failure(Throwable thrown) {
        List<String> lines = new ArrayList<>();
        describe(thrown, "", FRAMES, lines);
        int depth = 0;
        for (Throwable cause = thrown.getCause(); cause != null && depth < 8; cause = cause.getCause(), depth++) {
            describe(cause, "Caused by: ", CAUSE_FRAMES, lines);
        }
        String message = thrown.getMessage() == null ? "" : thrown.getMessage();
        return new CellError(simpleName(className(thrown)), message, lines);
    }

    /** The exception's line, its top frames, and the cell's own outermost call (the frames between say little). */
    private void describe(Throwable t, String prefix, int maxFrames, List<String> lines) {
        String header = prefix + className(t) + (t.getMessage() == null ? "" : ": " + t.getMessage());
        header.lines().forEach(lines::add);
        StackTraceElement[] frames = t.getStackTrace();
        int shown = Math.min(maxFrames, frames.length);
        for (int i = 0; i < shown; i++) lines.add("\tat " + frame(frames[i]));
        if (frames.length > shown + 1) lines.add("\t... " + (frames.length - shown - 1) + " more");
        if (frames.length > shown) lines.add("\tat " + frame(frames[frames.length - 1]));
    }

    private static String className(Throwable t) {
        return switch (t) {
            case EvalException e -> e.getExceptionClassName();
            case UnresolvedReferenceException u -> "UnresolvedReference";
            default -> t.getClass().getName();
        };
    }

    /** A frame in the notebook's terms: JShell's snippet frames ("#12", line 3) become "cell line N". */
    private String frame(StackTraceElement f) {
        String file = f.getFileName() == null ? "" : f.getFileName();
        if (!file.startsWith("#")) return f.toString();
        String klass = f.getClassName() == null || f.getClassName().isEmpty() ? "" : f.getClassName() + ".";
        String method = klass + (f.getMethodName().isEmpty() ? "cell" : f.getMethodName());
        Integer firstLine = snippetLines.get(file.substring(1));
        if (firstLine != null) return method + " (cell line " + (firstLine + f.getLineNumber() - 1) + ")";
        return method + " (snippet " + file + " of an earlier cell, line " + f.getLineNumber() + ")";
    }

    // ---- positions ----

    private static List<String> pointAt(String cell, int position) {
        int line = lineOf(cell, position);
        int lineStart = cell.lastIndexOf('\n', position - 1) + 1;
        String gutter = "  " + line + " | ";
        return List.of(gutter + lineText(cell, line),
                " ".repeat(gutter.length() - 2) + "| " + " ".repeat(Math.max(0, position - lineStart)) + "^");
    }

    static int lineOf(String cell, int position) {
        int line = 1;
        for (int i = 0; i < Math.min(position, cell.length()); i++) if (cell.charAt(i) == '\n') line++;
        return line;
    }

    private static String lineText(String cell, int line) {
        return cell.lines().skip(line - 1).findFirst().orElse("");
    }

    private static int leadingBlanks(String s) {
        int i = 0;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        return i;
    }

    private static String simpleName(String className) {
        return className.substring(className.lastIndexOf('.') + 1);
    }
}
