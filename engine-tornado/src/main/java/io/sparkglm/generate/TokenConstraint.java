package io.sparkglm.generate;

/**
 * Restricts which tokens a sequence may produce (a grammar, a JSON schema, a fixed label set). The
 * engine asks a fresh {@link State} per sequence to mask each step's logits before sampling and tells it
 * the chosen token; generation stops (finish reason STOP) once the state is complete.
 */
public interface TokenConstraint {

    /** A new automaton at the start of the constrained text. */
    State start();

    interface State {
        /** Sets the logits of every token not allowed next to negative infinity. */
        void mask(float[] logits);

        /** Advances past the chosen token (one the last mask allowed). */
        void accept(int token);

        /** Whether the text so far is complete: generation ends here. */
        boolean complete();
    }
}
