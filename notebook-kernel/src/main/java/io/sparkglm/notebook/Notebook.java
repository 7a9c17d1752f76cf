package io.sparkglm.notebook;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.Dataset;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;

/**
 * What notebook cells call ({@code import static io.sparkglm.notebook.Notebook.*}, which the kernel does at start):
 * show values while a cell runs, not only its last value. Outside a running kernel (tests, plain JShell) the
 * text form is printed instead.
 */
public final class Notebook {

    private Notebook() {}

    /** Shows a value as a cell result would show it: a Dataset as a table, a chart as an image. */
    public static void display(Object value) {
        show(value instanceof DisplayData data ? data : Displays.render(value, new org.dflib.jjava.jupyter.kernel.display.Renderer()));
    }

    /** Shows the first {@code maxRows} rows of a Dataset. */
    public static void display(Dataset<?> dataset, int maxRows) {
        show(Displays.table(dataset, maxRows));
    }

    public static void html(String html) {
        DisplayData data = new DisplayData(html);
        data.putHTML(html);
        show(data);
    }

    public static void markdown(String markdown) {
        DisplayData data = new DisplayData(markdown);
        data.putMarkdown(markdown);
        show(data);
    }

    /**
     * The root of the spark-glm checkout: set by bin/notebook-kernel, else found by walking up from the working
     * directory (a notebook's kernel starts in the notebook's folder).
     */
    public static Path repoRoot() {
        String property = System.getProperty("glm.repo.root");
        if (property != null && !property.isBlank()) return Path.of(property).toAbsolutePath().normalize();
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("pom.xml")) && Files.isDirectory(dir.resolve("notebook-kernel"))) return dir;
        }
        throw new IllegalStateException("cannot find the spark-glm checkout above " + Path.of("").toAbsolutePath()
                + "; start the kernel with bin/notebook-kernel or set -Dglm.repo.root");
    }

    private static void show(DisplayData data) {
        JavaKernel kernel = JavaKernel.running();
        if (kernel != null) {
            kernel.display(data);
        } else {
            System.out.println(data.getData(org.dflib.jjava.jupyter.kernel.display.mime.MIMEType.TEXT_PLAIN));
        }
    }
}
