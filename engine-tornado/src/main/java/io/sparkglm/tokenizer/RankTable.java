package io.sparkglm.tokenizer;

import java.util.Arrays;

/**
 * The mergeable byte sequences of a vocabulary and their BPE ranks, looked up by a slice of a byte
 * array without allocating: all sequences live in one blob, an open-addressing table maps a hash of
 * the bytes to the rank. Rank r's bytes are {@code blob[offset[r], offset[r+1])}; a rank with no bytes
 * (a hole in the rank numbering) is never found.
 */
final class RankTable {

    private final byte[] blob;
    private final int[] offset;
    private final int[] slots;      // rank + 1, or 0 for an empty slot
    private final int mask;

    /** @param sequences the bytes of rank i at index i; null for an unused rank */
    RankTable(byte[][] sequences) {
        int total = 0;
        for (byte[] b : sequences) if (b != null) total += b.length;
        blob = new byte[total];
        offset = new int[sequences.length + 1];
        int at = 0;
        for (int r = 0; r < sequences.length; r++) {
            offset[r] = at;
            if (sequences[r] != null) {
                System.arraycopy(sequences[r], 0, blob, at, sequences[r].length);
                at += sequences[r].length;
            }
        }
        offset[sequences.length] = at;
        int capacity = Integer.highestOneBit(Math.max(4, sequences.length * 3)) << 1; // load <= 1/3
        slots = new int[capacity];
        mask = capacity - 1;
        for (int r = 0; r < sequences.length; r++) {
            byte[] b = sequences[r];
            if (b == null || b.length == 0) continue;
            if (rank(b, 0, b.length) >= 0) {
                throw new IllegalArgumentException("vocabulary lists the byte sequence of rank " + r
                        + " twice (first at rank " + rank(b, 0, b.length) + ")");
            }
            int slot = hash(b, 0, b.length) & mask;
            while (slots[slot] != 0) slot = (slot + 1) & mask;
            slots[slot] = r + 1;
        }
    }

    int size() { return offset.length - 1; }

    /** Rank of {@code bytes[from, to)}, or -1 when the sequence is not in the vocabulary. */
    int rank(byte[] bytes, int from, int to) {
        int len = to - from;
        int slot = hash(bytes, from, to) & mask;
        while (true) {
            int entry = slots[slot];
            if (entry == 0) return -1;
            int r = entry - 1;
            int start = offset[r];
            if (offset[r + 1] - start == len && Arrays.equals(blob, start, start + len, bytes, from, to)) return r;
            slot = (slot + 1) & mask;
        }
    }

    /** A copy of the bytes of {@code rank}. */
    byte[] bytes(int rank) {
        return Arrays.copyOfRange(blob, offset[rank], offset[rank + 1]);
    }

    int length(int rank) { return offset[rank + 1] - offset[rank]; }

    private static int hash(byte[] b, int from, int to) {
        int h = 0x9E3779B9 * (to - from + 1);
        for (int i = from; i < to; i++) h = (h ^ b[i]) * 0x01000193;
        return h ^ (h >>> 15);
    }
}
