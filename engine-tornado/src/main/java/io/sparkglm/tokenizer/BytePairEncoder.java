package io.sparkglm.tokenizer;

import java.util.Arrays;

/**
 * Byte-level BPE of one pre-tokenizer piece, as tiktoken does it: start from single bytes and, while
 * some adjacent pair's concatenation is in the vocabulary, merge the pair with the lowest rank (the
 * leftmost one on a tie). Short pieces use tiktoken's linear scan over cached pair ranks; long ones
 * (a 500-character run of Chinese, 512 spaces) a heap, so the work stays O(n log n).
 * One instance per thread: it reuses its scratch arrays.
 */
final class BytePairEncoder {

    static final int LONG_PIECE = 128;
    private static final int NONE = Integer.MAX_VALUE;

    private final RankTable ranks;
    private final int[] rankToId;
    private final int longPiece;

    private int[] start = new int[64];
    private int[] pairRank = new int[64];
    // heap variant
    private int[] next = new int[0], prev = new int[0];
    private long[] heap = new long[0];

    BytePairEncoder(RankTable ranks, int[] rankToId) {
        this(ranks, rankToId, LONG_PIECE);
    }

    BytePairEncoder(RankTable ranks, int[] rankToId, int longPiece) {
        this.ranks = ranks;
        this.rankToId = rankToId;
        this.longPiece = longPiece;
    }

    /** Appends the ids of {@code piece[0, n)} (n >= 2, not itself a token) to {@code out}. */
    void encode(byte[] piece, int n, IntList out) {
        if (n >= longPiece) encodeWithHeap(piece, n, out);
        else encodeLinear(piece, n, out);
    }

    private int pairRank(byte[] piece, int from, int to) {
        int r = ranks.rank(piece, from, to);
        return r < 0 ? NONE : r;
    }

    private void encodeLinear(byte[] piece, int n, IntList out) {
        if (start.length < n + 1) start = new int[n + 1 + 16];
        if (pairRank.length < n + 1) pairRank = new int[n + 1 + 16];
        int[] start = this.start, pairRank = this.pairRank;
        int parts = n;
        for (int i = 0; i <= n; i++) start[i] = i;
        for (int i = 0; i < n - 1; i++) pairRank[i] = pairRank(piece, i, i + 2);
        while (parts > 1) {
            int best = NONE, at = -1;
            for (int i = 0; i < parts - 1; i++) {
                if (pairRank[i] < best) { best = pairRank[i]; at = i; }
            }
            if (at < 0) break;
            // merge part at+1 into part at
            System.arraycopy(start, at + 2, start, at + 1, parts - at - 1);
            System.arraycopy(pairRank, at + 2, pairRank, at + 1, Math.max(0, parts - at - 3));
            parts--;
            pairRank[at] = at + 1 < parts ? pairRank(piece, start[at], start[at + 2]) : NONE;
            if (at > 0) pairRank[at - 1] = pairRank(piece, start[at - 1], start[at + 1]);
        }
        for (int i = 0; i < parts; i++) out.add(idOf(piece, start[i], start[i + 1]));
    }

    private void encodeWithHeap(byte[] piece, int n, IntList out) {
        if (next.length < n + 1) {
            next = new int[n + 1];
            prev = new int[n + 1];
        }
        if (pairRank.length < n + 1) pairRank = new int[n + 1];
        int[] next = this.next, prev = this.prev, pairRank = this.pairRank;
        int size = 0;
        if (heap.length < 2 * n + 4) heap = new long[2 * n + 4];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1;
            prev[i] = i - 1;
            pairRank[i] = i + 2 <= n ? pairRank(piece, i, i + 2) : NONE;
            if (pairRank[i] != NONE) size = push(size, pairRank[i], i);
        }
        // a part starting at p is alive while next[p] > p; merged-away parts get next = -1
        while (size > 0) {
            long top = heap[0];
            size = pop(size);
            int rank = (int) (top >>> 32), p = (int) top;
            if (next[p] < 0 || pairRank[p] != rank) continue;   // stale entry
            int q = next[p];                                      // merge part q into part p
            int after = next[q];
            next[p] = after;
            next[q] = -1;
            if (after < n) prev[after] = p;
            pairRank[p] = after < n ? pairRank(piece, p, next[after]) : NONE;
            if (pairRank[p] != NONE) size = push(size, pairRank[p], p);
            int before = prev[p];
            if (before >= 0) {
                pairRank[before] = pairRank(piece, before, after);
                if (pairRank[before] != NONE) size = push(size, pairRank[before], before);
            }
        }
        for (int p = 0; p < n; p = next[p]) out.add(idOf(piece, p, next[p]));
    }

    private int idOf(byte[] piece, int from, int to) {
        int r = ranks.rank(piece, from, to);
        if (r < 0) throw new IllegalStateException("byte " + (piece[from] & 0xFF) + " has no token in this vocabulary");
        return rankToId[r];
    }

    // A binary min-heap of (rank << 32 | position): lowest rank first, leftmost on ties, like tiktoken.
    private int push(int size, int rank, int pos) {
        if (size == heap.length) heap = Arrays.copyOf(heap, size * 2);
        long key = ((long) rank << 32) | pos;
        int i = size;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= key) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = key;
        return size + 1;
    }

    private int pop(int size) {
        long last = heap[--size];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) break;
            if (child + 1 < size && heap[child + 1] < heap[child]) child++;
            if (heap[child] >= last) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = last;
        return size;
    }
}
