package io.sparkglm.notebook;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.JupyterIO;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.comm.CommManager;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.magic.MagicsRegistry;
import org.dflib.jjava.jupyter.kernel.util.StringStyler;

/**
 * A Jupyter kernel for Java cells: JJava's protocol layer (ZMQ channels, messages, display data) with cells
 * evaluated by JShell in this JVM ({@link CellEvaluator}), so a SparkSession made in one cell lives on in the next.
 * Started by bin/notebook-kernel with Spark's JVM flags and the project's class path; bin/install-kernel writes
 * the kernelspec "java" that points there.
 *
 * <p>A cell's last expression is shown as rich output ({@link Displays}); a cell that does not compile or throws
 * sends Jupyter an error with the cell line and a trimmed stack trace, so a headless run (nbconvert) fails on it.
 */
public final class JavaKernel extends BaseKernel {

    /** Run once before the first cell: what almost every notebook cell needs, plus the display helpers. */
    static final List<String> STARTUP_IMPORTS = List.of(
            "import java.util.*;",
            "import java.util.stream.*;",
            "import java.nio.file.*;",
            "import java.io.*;",
            "import static io.sparkglm.notebook.Notebook.*;");

    private static volatile JavaKernel running;

    private final CellEvaluator evaluator;

    JavaKernel(CellEvaluator evaluator) {
        super("spark-glm-java", version(),
                new LanguageInfo.Builder("java")
                        .version(Runtime.version().toString())
                        .mimetype("text/x-java-source")
                        .fileExtension(".jshell")
                        .pygments("java")
                        .codemirror("text/x-java")
                        .build(),
                List.of(), null, new JupyterIO(StandardCharsets.UTF_8), new CommManager(), new Renderer(),
                null, new MagicsRegistry(), false, new StringStyler.Builder().build());
        this.evaluator = evaluator;
    }

    /** The kernel serving this JVM, or null outside a kernel. */
    static JavaKernel running() {
        return running;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: JavaKernel <connection-file>  (Jupyter starts it through the kernelspec)");
            System.exit(2);
        }
        var connection = new JupyterConnection(KernelConnectionProperties.parse(Files.readString(Path.of(args[0]))));
        var kernel = new JavaKernel(new CellEvaluator(System.getProperty("java.class.path"), STARTUP_IMPORTS));
        kernel.onStartup();
        kernel.becomeHandlerForConnection(connection);
        connection.connect();
        connection.waitUntilClose();
        // Spark's non-daemon threads would keep the JVM alive after Jupyter asked for shutdown.
        System.exit(0);
    }

    @Override
    public void onStartup() {
        super.onStartup();
        running = this;
    }

    @Override
    public void onShutdown(boolean isRestarting) {
        running = null;
        SparkSession.getDefaultSession().foreach(session -> { session.stop(); return null; });
        evaluator.close();
        super.onShutdown(isRestarting);
    }

    @Override
    public DisplayData eval(String code) {
        CellEvaluator.Outcome outcome = evaluator.eval(code);
        // A PrintStream value is what System.out.printf/append return, not something to show.
        if (!outcome.hasValue() || outcome.value() == null || outcome.value() instanceof java.io.PrintStream) return null;
        try {
            return Displays.render(outcome.value(), getRenderer());
        } catch (Exception | LinkageError e) { // Spark's exceptions are checked, thrown unchecked from Scala
            throw evaluator.displayError(e);
        }
    }

    @Override
    public Object evalRaw(String code) {
        return evaluator.eval(code).value();
    }

    /** Jupyter's "interrupt": stop the cell's Spark jobs, then interrupt the cell itself. */
    @Override
    public void interrupt() {
        SparkSession.getDefaultSession().foreach(session -> { session.sparkContext().cancelAllJobs(); return null; });
        evaluator.interrupt();
    }

    /** The lines Jupyter shows for a failed cell: ours for cell errors, a stack trace for the kernel's own. */
    @Override
    public List<String> formatError(Throwable e) {
        return e instanceof CellError cell ? cell.traceback() : super.formatError(e);
    }

    @Override
    public DisplayData inspect(String code, int at, boolean extraDetail) {
        return null;
    }

    @Override
    public ReplacementOptions complete(String code, int at) {
        return null;
    }

    @Override
    public String isComplete(String code) {
        return IS_COMPLETE_MAYBE;
    }

    private static String version() {
        String v = JavaKernel.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
