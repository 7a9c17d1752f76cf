package io.sparkglm.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns generated ids into text as they arrive. A token may end in the middle of a UTF-8 character
 * (Chinese, emoji): those bytes are held back until the character is complete, so every string
 * returned is final. Concatenating every {@link #accept} result and {@link #flush()} gives exactly
 * {@code tokenizer.decode(allIds)}. Not thread-safe: one per generated sequence.
 */
public final class StreamingDecoder {

    private final GlmTokenizer tokenizer;
    private byte[] pending = new byte[16];
    private int pendingLength;

    StreamingDecoder(GlmTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token; returns the text that is now complete (possibly empty). */
    public String accept(int id) {
        byte[] bytes = tokenizer.tokenBytes(id);
        if (pendingLength + bytes.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + bytes.length));
        }
        System.arraycopy(bytes, 0, pending, pendingLength, bytes.length);
        pendingLength += bytes.length;
        int complete = completePrefix(pending, pendingLength);
        if (complete == 0) return "";
        String text = new String(pending, 0, complete, StandardCharsets.UTF_8);
        System.arraycopy(pending, complete, pending, 0, pendingLength - complete);
        pendingLength -= complete;
        return text;
    }

    /** Ends the stream: any held-back bytes (an unfinished character) come out as U+FFFD. */
    public String flush() {
        String text = new String(pending, 0, pendingLength, StandardCharsets.UTF_8);
        pendingLength = 0;
        return text;
    }

    /** Bytes held back, waiting for the rest of a character. */
    public int pendingBytes() { return pendingLength; }

    /**
     * Length of the prefix that ends before an unfinished trailing UTF-8 sequence: a lead byte within
     * the last 3 bytes followed only by continuation bytes, fewer than the lead byte announces.
     * Cutting before a lead byte never changes how the prefix decodes (no sequence crosses it).
     */
    static int completePrefix(byte[] b, int n) {
        for (int i = n - 1; i >= Math.max(0, n - 3); i--) {
            int v = b[i] & 0xFF;
            if ((v & 0xC0) == 0x80) continue;            // continuation byte: keep looking for the lead
            int expected = v >= 0xF0 && v <= 0xF4 ? 4 : v >= 0xE0 && v <= 0xEF ? 3 : v >= 0xC2 && v <= 0xDF ? 2 : 1;
            return n - i < expected ? i : n;
        }
        return n;
    }
}
