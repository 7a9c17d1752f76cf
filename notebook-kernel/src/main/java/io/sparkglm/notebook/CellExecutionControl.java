package io.sparkglm.notebook;

import java.lang.reflect.Method;
import java.util.Map;
import jdk.jshell.execution.DirectExecutionControl;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/**
 * JShell's local execution in the kernel JVM, keeping what JShell itself throws away: the value of the last
 * snippet as an object (JShell only returns its {@code toString}), so the kernel can show a Dataset as a table or a
 * chart as an image.
 *
 * <p>Snippets run on the calling thread (the kernel's shell thread), so objects created in one cell, such as a
 * SparkSession, live on in the next. Snippet classes are loaded by JShell's class loader, whose parent is the system
 * class loader: cells see the kernel's class path (Spark, spark-glm, XChart) as the kernel does.
 */
final class CellExecutionControl extends DirectExecutionControl {

    private volatile Thread running;
    private Object lastValue;

    /** Forgets the previous snippet's value; call before each evaluation. */
    void clear() {
        lastValue = null;
    }

    Object lastValue() {
        return lastValue;
    }

    @Override
    protected String invoke(Method doitMethod) throws Exception {
        running = Thread.currentThread();
        try {
            Object value = doitMethod.invoke(null);
            lastValue = value;
            return valueString(value);
        } finally {
            running = null;
            Thread.interrupted(); // an interrupt aimed at this snippet must not leak into the next one
        }
    }

    /** Interrupts the running snippet (Jupyter's "interrupt kernel"); blocking calls in it then throw. */
    @Override
    public void stop() {
        Thread thread = running;
        if (thread != null) thread.interrupt();
    }

    /** Hands JShell the one instance the kernel keeps, so the kernel can read values and failures from it. */
    record Provider(CellExecutionControl control) implements ExecutionControlProvider {
        @Override
        public String name() {
            return "notebook";
        }

        @Override
        public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
            return control;
        }
    }
}
