package io.sparkglm.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Cells through JShell in this JVM: values, state across cells, and the errors a notebook reader sees. */
class CellEvaluatorTest {

    private static CellEvaluator cells;

    @BeforeAll
    static void start() {
        cells = new CellEvaluator("", JavaKernel.STARTUP_IMPORTS.subList(0, 4));
    }

    @AfterAll
    static void stop() {
        cells.close();
    }

    @Test
    void theLastExpressionIsTheCellValueAndStateLivesAcrossCells() {
        CellEvaluator.Outcome declaration = cells.eval("int forty = 40;");
        assertFalse(declaration.hasValue(), "a declaration has no value to show");
        assertEquals(42, cells.eval("forty + 2").value());
        assertEquals(20, cells.eval("int p = 1; int q = p + 1;\n q * 10").value(), "several snippets, last one shown");
        assertFalse(cells.eval("System.out.print(\"\");").hasValue(), "a void call has no value");
    }

    @Test
    void theValueIsTheObjectItselfNotItsString() {
        cells.eval("record Point(int x, int y) { int sum() { return x + y; } }");
        Object sb = cells.eval("new StringBuilder(\"ab\").append(new Point(3, 4).sum())").value();
        StringBuilder value = assertInstanceOf(StringBuilder.class, sb);
        assertEquals("ab7", value.toString());
        Object list = cells.eval("var xs = new ArrayList<Integer>(List.of(5, 6));\nxs").value();
        assertEquals(List.of(5, 6), list, "a bare variable is an expression too");
    }

    @Test
    void aCompileErrorNamesTheLineAndPointsAtTheColumn() {
        String cell = "int a = 1;\nint b = 2;\nString c = b.foo();\nint d = 4;";
        CellError e = assertThrows(CellError.class, () -> cells.eval(cell));
        assertEquals("CompileError", e.errorName());
        List<String> tb = e.traceback();
        assertEquals("Compile error in line 3:", tb.get(0));
        assertEquals("  3 | String c = b.foo();", tb.get(1));
        int caret = tb.get(2).indexOf('^'), expression = tb.get(1).indexOf("b.foo");
        assertTrue(caret >= expression && caret < expression + "b.foo".length(), "the caret sits under b.foo: " + tb);
        assertTrue(String.join("\n", tb).contains("int cannot be dereferenced"), tb.toString());
        assertTrue(e.getMessage().startsWith("CompileError: line 3: "), e.getMessage());
        // Snippets before the failing one ran (as in any notebook); the ones after did not.
        assertEquals(2, cells.eval("a + 1").value());
        assertThrows(CellError.class, () -> cells.eval("d"));
    }

    @Test
    void anExceptionShowsItsClassMessageCausesAndTheCellLine() {
        String cell = "int n = 0;\n"
                + "void fail() { throw new IllegalStateException(\"outer\", new java.io.IOException(\"disk gone\")); }\n"
                + "fail();";
        CellError e = assertThrows(CellError.class, () -> cells.eval(cell));
        assertEquals("IllegalStateException", e.errorName());
        List<String> tb = e.traceback();
        assertEquals("java.lang.IllegalStateException: outer", tb.get(0));
        assertTrue(tb.contains("\tat cell (cell line 3)"), "the failing call is named by its cell line: " + tb);
        assertTrue(tb.contains("Caused by: java.io.IOException: disk gone"), tb.toString());
        assertTrue(tb.stream().noneMatch(l -> l.contains("io.sparkglm.notebook") || l.contains("jdk.jshell")),
                "the kernel's own frames are cut: " + tb);
    }

    @Test
    void deepLibraryStacksAreTrimmedToTheCall() {
        String cell = "int depth(int k) { if (k == 0) throw new ArithmeticException(\"bottom\"); return depth(k - 1) + 1; }\n"
                + "depth(50)";
        CellError e = assertThrows(CellError.class, () -> cells.eval(cell));
        List<String> frames = e.traceback().stream().filter(l -> l.startsWith("\tat ")).toList();
        assertEquals(13, frames.size(), "12 frames from the top plus the cell's own call: " + e.traceback());
        assertTrue(frames.get(0).startsWith("\tat depth (cell line 1)"), frames.get(0));
        assertTrue(e.traceback().contains("\t... 39 more"), e.traceback().toString());
        assertEquals("\tat cell (cell line 2)", frames.get(frames.size() - 1));
    }

    @Test
    void incompleteAndUnresolvedCodeAreCompileErrors() {
        CellError incomplete = assertThrows(CellError.class, () -> cells.eval("int ok = 1;\nint[] xs = {1, 2"));
        assertEquals("CompileError", incomplete.errorName());
        assertTrue(incomplete.getMessage().contains("incomplete code from line 2"), incomplete.getMessage());

        CellError unresolved = assertThrows(CellError.class, () -> cells.eval("\nvoid caller() { missingHelper(); }"));
        assertTrue(unresolved.getMessage().contains("line 2") && unresolved.getMessage().contains("missingHelper"),
                unresolved.getMessage());
    }

    @Test
    void anInterruptStopsABlockedCell() throws Exception {
        CompletableFuture<CellError> failure = CompletableFuture.supplyAsync(
                () -> assertThrows(CellError.class, () -> cells.eval("Thread.sleep(60_000);")));
        Thread.sleep(1000); // let the cell start sleeping
        cells.interrupt();
        CellError e = failure.get(20, TimeUnit.SECONDS);
        assertEquals("InterruptedException", e.errorName());
        assertEquals(3, cells.eval("1 + 2").value(), "the kernel keeps working after an interrupt");
    }
}
