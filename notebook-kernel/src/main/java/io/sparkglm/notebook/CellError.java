package io.sparkglm.notebook;

import java.util.List;

/**
 * A cell that failed: to compile, or while running. Carries what Jupyter shows for it: a name (the exception's
 * class, or "CompileError"), a one-line value, and the traceback lines (no newlines inside a line).
 */
final class CellError extends RuntimeException {

    private final String errorName;
    private final List<String> traceback;

    CellError(String errorName, String message, List<String> traceback) {
        // Jupyter's error reply carries only the name of this class and the message (a headless run prints just
        // these), so the message starts with the real error's name and ends with the traceback.
        super(errorName + ": " + message + "\n" + String.join("\n", traceback), null, false, false);
        this.errorName = errorName;
        this.traceback = List.copyOf(traceback);
    }

    /** The error's own name: the exception's simple class name, or "CompileError". */
    String errorName() {
        return errorName;
    }

    List<String> traceback() {
        return traceback;
    }
}
