package io.sparkglm.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkglm.model.GgufFile;
import io.sparkglm.model.ModelFormatException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * GLM-4's tokenizer: byte-level BPE with tiktoken's rules over the GLM-4 pre-tokenizer, its special
 * tokens and its chat format. Immutable and thread-safe.
 *
 * <p>Two sources give the same ids: the real {@code tokenizer.model} (tiktoken: "base64 rank" lines,
 * id = rank, specials numbered after the last rank) and a GGUF vocabulary (GPT-2 byte-level strings,
 * merges, CONTROL tokens as specials; merge i gives its result rank 256 + i, so "lowest rank first"
 * is "merge priority first").
 *
 * <p>Specials policy: {@link #encode(String)} treats ALL text as ordinary text; "&lt;|assistant|&gt;" or
 * "[gMASK]" in a document become the tokens of those characters, never control tokens. Specials enter
 * only through {@link #encodeChat}, {@link #specialId} or the explicit opt-in
 * {@link #encodeAllowingSpecials}. Unpaired surrogates in the input are encoded as U+FFFD (what
 * Python tiktoken does), never an error.
 */
public final class GlmTokenizer {

    /** GLM-4's special tokens in id order (FACTS.md; tokenizer_config.json), used for a bare tokenizer.model. */
    static final List<String> GLM4_SPECIALS = List.of("<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>",
            "<eop>", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>", "<|begin_of_image|>",
            "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>");

    /** Generation ends on these (by name): end of text, or the model starting the next user/tool turn. */
    static final List<String> STOP_NAMES = List.of("<|endoftext|>", "<|user|>", "<|observation|>");

    /** Below this many chars, {@link #encode(String, boolean)} stays sequential. */
    static final int PARALLEL_MIN_CHARS = 1 << 16;

    private static final int GGUF_TOKEN_CONTROL = 3, GGUF_TOKEN_UNUSED = 5;

    private final RankTable ranks;
    private final int[] rankToId;
    private final int[] idToRank;          // -1: special or unused id
    private final int[] byteToId = new int[256];
    private final int vocabSize;
    private final Map<String, Integer> specialIds;   // name -> id, in id order
    private final Map<Integer, String> specialNames;
    private final int[] stopIds;

    private GlmTokenizer(RankTable ranks, int[] rankToId, int vocabSize, Map<String, Integer> specials,
                         List<Integer> extraStopIds) {
        this.ranks = ranks;
        this.rankToId = rankToId;
        this.vocabSize = vocabSize;
        this.idToRank = new int[vocabSize];
        Arrays.fill(idToRank, -1);
        for (int r = 0; r < rankToId.length; r++) {
            if (rankToId[r] >= 0) idToRank[rankToId[r]] = r;
        }
        byte[] one = new byte[1];
        for (int b = 0; b < 256; b++) {
            one[0] = (byte) b;
            int r = ranks.rank(one, 0, 1);
            if (r < 0) throw new ModelFormatException(String.format("vocabulary has no token for the byte 0x%02X", b));
            byteToId[b] = rankToId[r];
        }
        this.specialIds = Map.copyOf(specials);
        this.specialNames = new HashMap<>();
        specials.forEach((name, id) -> {
            if (id < 0 || id >= vocabSize || idToRank[id] >= 0) {
                throw new ModelFormatException("special token " + name + " has id " + id + ", which is not free in a vocabulary of " + vocabSize);
            }
            specialNames.put(id, name);
        });
        TreeSet<Integer> stops = new TreeSet<>(extraStopIds);
        for (String name : STOP_NAMES) if (specials.containsKey(name)) stops.add(specials.get(name));
        this.stopIds = stops.stream().mapToInt(Integer::intValue).toArray();
    }

    // ------------------------------------------------------------------------------------------ loading

    /** A GGUF file, an HF model folder holding tokenizer.model, or a bare tokenizer.model. */
    public static GlmTokenizer load(Path path) {
        Objects.requireNonNull(path, "path");
        if (Files.isDirectory(path)) {
            Path model = path.resolve("tokenizer.model");
            if (!Files.isRegularFile(model)) {
                throw new ModelFormatException(path + ": folder has no tokenizer.model (GLM-4's tiktoken vocabulary)");
            }
            return fromTiktoken(model);
        }
        if (!Files.isRegularFile(path)) throw new ModelFormatException(path + ": no such file");
        if (GgufFile.looksLikeGguf(path)) {
            try (GgufFile gguf = GgufFile.open(path)) {
                return fromGguf(gguf);
            }
        }
        return fromTiktoken(path);
    }

    /**
     * The tiktoken file (GLM-4's tokenizer.model). Specials: from tokenizer_config.json's
     * added_tokens_decoder when the file sits beside one, else GLM-4's 14 specials numbered from the
     * first id after the last rank (151329 for the real file).
     */
    public static GlmTokenizer fromTiktoken(Path path) {
        List<byte[]> byRank = new ArrayList<>();
        Base64.Decoder base64 = Base64.getDecoder();
        int lineNo = 0;
        try (BufferedReader in = Files.newBufferedReader(path, StandardCharsets.US_ASCII)) {
            for (String line; (line = in.readLine()) != null; ) {
                lineNo++;
                if (line.isBlank()) continue;
                int space = line.indexOf(' ');
                if (space <= 0) throw new ModelFormatException(path + ":" + lineNo + ": expected \"base64 rank\"");
                int rank = Integer.parseInt(line.substring(space + 1).trim());
                byte[] bytes = base64.decode(line.substring(0, space));
                if (rank < 0 || rank > 4 * lineNo + 1024) {
                    throw new ModelFormatException(path + ":" + lineNo + ": rank " + rank + " out of range");
                }
                if (bytes.length == 0) throw new ModelFormatException(path + ":" + lineNo + ": empty token");
                while (byRank.size() <= rank) byRank.add(null);
                if (byRank.get(rank) != null) throw new ModelFormatException(path + ":" + lineNo + ": rank " + rank + " appears twice");
                byRank.set(rank, bytes);
            }
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read tokenizer file: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) { // NumberFormatException, bad base64
            throw new ModelFormatException(path + ":" + lineNo + ": not a tiktoken line (" + e.getMessage() + ")", e);
        }
        if (byRank.isEmpty()) throw new ModelFormatException(path + ": empty tokenizer file");
        int n = byRank.size();
        RankTable table;
        try {
            table = new RankTable(byRank.toArray(new byte[0][]));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(path + ": " + e.getMessage(), e);
        }
        int[] rankToId = new int[n];
        for (int r = 0; r < n; r++) rankToId[r] = byRank.get(r) == null ? -1 : r;

        Map<String, Integer> specials = readAddedTokens(path.resolveSibling("tokenizer_config.json"));
        if (specials.isEmpty()) {
            for (int i = 0; i < GLM4_SPECIALS.size(); i++) specials.put(GLM4_SPECIALS.get(i), n + i);
        }
        int vocabSize = Math.max(n, specials.values().stream().mapToInt(i -> i + 1).max().orElse(n));
        return new GlmTokenizer(table, rankToId, vocabSize, specials, List.of());
    }

    private static Map<String, Integer> readAddedTokens(Path config) {
        Map<String, Integer> specials = new LinkedHashMap<>();
        if (!Files.isRegularFile(config)) return specials;
        try {
            JsonNode added = new ObjectMapper().readTree(config.toFile()).path("added_tokens_decoder");
            for (Iterator<Map.Entry<String, JsonNode>> it = added.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String content = e.getValue().path("content").asText(null);
                if (content == null) throw new ModelFormatException(config + ": added token " + e.getKey() + " has no content");
                specials.put(content, Integer.parseInt(e.getKey()));
            }
        } catch (IOException | NumberFormatException e) {
            throw new ModelFormatException(config + ": cannot read added_tokens_decoder: " + e.getMessage(), e);
        }
        return specials;
    }

    /**
     * A GGUF vocabulary (tokenizer.ggml.model "gpt2", tokenizer.ggml.pre "chatglm-bpe"). Ranks come from
     * the merges: single bytes rank by byte value, the result of merge i ranks 256 + i (the first merge
     * that spells a sequence wins). CONTROL tokens are the specials; eos/eot ids add to the stop ids.
     */
    public static GlmTokenizer fromGguf(GgufFile gguf) {
        Objects.requireNonNull(gguf, "gguf");
        String where = gguf.path() + ": ";
        String model = gguf.getString("tokenizer.ggml.model");
        if (!model.equals("gpt2")) throw new ModelFormatException(where + "tokenizer.ggml.model is \"" + model + "\", expected \"gpt2\" (byte-level BPE)");
        String pre = gguf.get("tokenizer.ggml.pre").map(Object::toString).orElse("(missing)");
        if (!pre.equals("chatglm-bpe") && !pre.equals("chatglm4")) {
            throw new ModelFormatException(where + "tokenizer.ggml.pre is \"" + pre + "\", expected \"chatglm-bpe\" (GLM-4's pre-tokenizer)");
        }
        // the counts agree before any string is decoded: a hostile file must not make us build a vocabulary to reject
        if (gguf.get("tokenizer.ggml.tokens").orElse(null) instanceof List<?> t
                && gguf.get("tokenizer.ggml.token_type").orElse(null) instanceof List<?> tt && t.size() != tt.size()) {
            throw new ModelFormatException(where + "token_type has " + tt.size() + " entries for " + t.size() + " tokens");
        }
        List<String> tokens = gguf.getStringList("tokenizer.ggml.tokens");
        int[] types = gguf.get("tokenizer.ggml.token_type").isPresent() ? gguf.getIntArray("tokenizer.ggml.token_type") : null;
        if (types != null && types.length != tokens.size()) {
            throw new ModelFormatException(where + "token_type has " + types.length + " entries for " + tokens.size() + " tokens");
        }
        if (gguf.get("tokenizer.ggml.merges").isEmpty()) throw new ModelFormatException(where + "cannot find tokenizer merges (tokenizer.ggml.merges)");
        List<String> merges = gguf.getStringList("tokenizer.ggml.merges");
        List<Integer> stops = new ArrayList<>();
        for (String key : List.of("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id")) {
            if (gguf.get(key).isPresent()) stops.add(gguf.getInt(key));
        }
        try {
            return fromByteLevelVocabulary(tokens, types, merges, stops);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(where + e.getMessage(), e);
        }
    }

    /** The GGUF path without the file: token strings, token types (null: all normal), merges "A B". */
    static GlmTokenizer fromByteLevelVocabulary(List<String> tokens, int[] types, List<String> merges, List<Integer> stopIds) {
        Map<String, Integer> idOf = new HashMap<>(tokens.size() * 2);
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (int id = 0; id < tokens.size(); id++) {
            int type = types == null ? 1 : types[id];
            if (type == GGUF_TOKEN_CONTROL) specials.put(tokens.get(id), id);
            else if (type != GGUF_TOKEN_UNUSED) idOf.putIfAbsent(tokens.get(id), id);
        }
        byte[][] byRank = new byte[256 + merges.size()][];
        int[] rankToId = new int[byRank.length];
        Arrays.fill(rankToId, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = idOf.get(ByteLevelAlphabet.encode(new byte[] {(byte) b}));
            if (id == null) throw new IllegalArgumentException(String.format("vocabulary has no token for the byte 0x%02X", b));
            byRank[b] = new byte[] {(byte) b};
            rankToId[b] = id;
        }
        Map<String, Boolean> seen = new HashMap<>();
        for (int i = 0; i < merges.size(); i++) {
            String merge = merges.get(i);
            int space = merge.indexOf(' ', 1);
            if (space < 0) throw new IllegalArgumentException("merge " + i + " \"" + merge + "\" is not \"left right\"");
            String joined = merge.substring(0, space) + merge.substring(space + 1);
            Integer id = idOf.get(joined);
            if (id == null) throw new IllegalArgumentException("merge " + i + " \"" + merge + "\" makes a token that is not in the vocabulary");
            if (seen.putIfAbsent(joined, Boolean.TRUE) != null) continue;  // an earlier merge already spells it
            byRank[256 + i] = ByteLevelAlphabet.decode(joined);
            rankToId[256 + i] = id;
        }
        return new GlmTokenizer(new RankTable(byRank), rankToId, tokens.size(), specials, stopIds);
    }

    // ------------------------------------------------------------------------------------------ encoding

    /** Ids of ordinary text (specials are never parsed). Null is an error; "" gives no ids. */
    public int[] encode(String text) {
        Objects.requireNonNull(text, "text to encode must not be null");
        char[] chars = text.toCharArray();
        IntList out = new IntList(chars.length / 3 + 4);
        encodeRange(chars, 0, chars.length, out, new Scratch(this));
        return out.toArray();
    }

    /** {@link #encode(String)}, split over the common ForkJoinPool when {@code parallel} and the text is long. */
    public int[] encode(String text, boolean parallel) {
        return parallel ? encodeParallel(text, ForkJoinPool.commonPool()) : encode(text);
    }

    /**
     * The same ids as {@link #encode(String)}, computed on {@code pool}: the text is cut only at
     * {@link PreTokenizer#isSafeSplit safe splits}, where no pre-tokenizer piece can cross, and the
     * chunks are encoded independently.
     */
    public int[] encodeParallel(String text, ForkJoinPool pool) {
        Objects.requireNonNull(text, "text to encode must not be null");
        Objects.requireNonNull(pool, "pool");
        if (text.length() < PARALLEL_MIN_CHARS || pool.getParallelism() < 2) return encode(text);
        char[] chars = text.toCharArray();
        int[] cuts = chunkBounds(chars, Math.max(PARALLEL_MIN_CHARS / 4, chars.length / (8 * pool.getParallelism())));
        int[][] parts = new int[cuts.length - 1][];
        try {
            pool.submit(() -> IntStream.range(0, parts.length).parallel().forEach(k -> {
                IntList out = new IntList((cuts[k + 1] - cuts[k]) / 3 + 4);
                encodeRange(chars, cuts[k], cuts[k + 1], out, new Scratch(this));
                parts[k] = out.toArray();
            })).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while encoding", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
        IntList all = new IntList(Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (int[] p : parts) all.addAll(p);
        return all.toArray();
    }

    /** Chunk boundaries 0 = c0 < c1 < ... = n, each inner one a safe split at or after a multiple of {@code target}. */
    static int[] chunkBounds(char[] chars, int target) {
        IntList cuts = new IntList(16);
        cuts.add(0);
        int last = 0;
        while (true) {
            int want = last + target;
            if (want >= chars.length) break;
            int cut = PreTokenizer.nextSafeSplit(chars, want, chars.length, chars.length);
            if (cut >= chars.length) break;
            cuts.add(cut);
            last = cut;
        }
        cuts.add(chars.length);
        return cuts.toArray();
    }

    /**
     * Explicit opt-in: text in which special token names ARE parsed (like llama.cpp with parse_special,
     * or tiktoken's allowed_special="all"). Never use it on untrusted text; {@link #encode(String)} is
     * the safe default.
     */
    public int[] encodeAllowingSpecials(String text) {
        Objects.requireNonNull(text, "text to encode must not be null");
        char[] chars = text.toCharArray();
        IntList out = new IntList(chars.length / 3 + 4);
        Scratch scratch = new Scratch(this);
        int from = 0;
        for (int i = 0; i < chars.length; i++) {
            String match = null;
            for (String name : specialIds.keySet()) {   // longest match at i
                if (text.startsWith(name, i) && (match == null || name.length() > match.length())) match = name;
            }
            if (match == null) continue;
            encodeRange(chars, from, i, out, scratch);
            out.add(specialIds.get(match));
            i += match.length() - 1;
            from = i + 1;
        }
        encodeRange(chars, from, chars.length, out, scratch);
        return out.toArray();
    }

    /** Per-call scratch: the UTF-8 bytes of the current piece and a BPE worker. */
    private static final class Scratch {
        byte[] bytes = new byte[256];
        final BytePairEncoder bpe;

        Scratch(GlmTokenizer t) { bpe = new BytePairEncoder(t.ranks, t.rankToId); }
    }

    private void encodeRange(char[] chars, int from, int to, IntList out, Scratch scratch) {
        for (int i = from; i < to; ) {
            int end = PreTokenizer.nextPieceEnd(chars, i, to);
            encodePiece(chars, i, end, out, scratch);
            i = end;
        }
    }

    private void encodePiece(char[] chars, int from, int to, IntList out, Scratch scratch) {
        if (scratch.bytes.length < 3 * (to - from)) scratch.bytes = new byte[3 * (to - from) + 16];
        byte[] b = scratch.bytes;
        int n = utf8(chars, from, to, b);
        if (n == 1) {
            out.add(byteToId[b[0] & 0xFF]);
            return;
        }
        int whole = ranks.rank(b, 0, n);     // a piece that is itself a token is one token (tiktoken)
        if (whole >= 0) {
            out.add(rankToId[whole]);
            return;
        }
        scratch.bpe.encode(b, n, out);
    }

    /** UTF-8 of chars[from, to) into out; an unpaired surrogate becomes U+FFFD. Returns the byte count. */
    static int utf8(char[] s, int from, int to, byte[] out) {
        int n = 0;
        for (int i = from; i < to; i++) {
            char c = s[i];
            if (c < 0x80) {
                out[n++] = (byte) c;
            } else if (c < 0x800) {
                out[n++] = (byte) (0xC0 | (c >> 6));
                out[n++] = (byte) (0x80 | (c & 0x3F));
            } else if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(s[i + 1])) {
                    int cp = Character.toCodePoint(c, s[++i]);
                    out[n++] = (byte) (0xF0 | (cp >> 18));
                    out[n++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                    out[n++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                    out[n++] = (byte) (0x80 | (cp & 0x3F));
                } else {   // unpaired: U+FFFD
                    out[n++] = (byte) 0xEF;
                    out[n++] = (byte) 0xBF;
                    out[n++] = (byte) 0xBD;
                }
            } else {
                out[n++] = (byte) (0xE0 | (c >> 12));
                out[n++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                out[n++] = (byte) (0x80 | (c & 0x3F));
            }
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------ chat

    /**
     * GLM-4's chat prompt, as its chat template builds it: {@code [gMASK]<sop>}, then per message
     * {@code <|role|>} + encode("\n") + encode(content) ("\n" encoded apart from the content, like
     * GLM's own code), then {@code <|assistant|>} when {@code addGenerationPrompt}. Messages with empty
     * content are left out, as the template does ({@code {% if item['content'] %}}). Content is always
     * ordinary text.
     */
    public int[] encodeChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Objects.requireNonNull(messages, "messages must not be null");
        IntList out = new IntList(64);
        out.add(specialId("[gMASK]"));
        out.add(specialId("<sop>"));
        int[] newline = encode("\n");
        for (ChatMessage m : messages) {
            Objects.requireNonNull(m, "a chat message is null");
            if (m.content().isEmpty()) continue;
            out.add(specialId(roleToken(m.role())));
            out.addAll(newline);
            out.addAll(encode(m.content()));
        }
        if (addGenerationPrompt) out.add(specialId("<|assistant|>"));
        return out.toArray();
    }

    static String roleToken(ChatMessage.Role role) {
        return switch (role) {
            case SYSTEM -> "<|system|>";
            case USER -> "<|user|>";
            case ASSISTANT -> "<|assistant|>";
            case OBSERVATION -> "<|observation|>";
        };
    }

    // ------------------------------------------------------------------------------------------ decoding

    /** The text of {@code ids}; specials come out as their names, invalid UTF-8 as U+FFFD. */
    public String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    /** The bytes of {@code ids}, concatenated. */
    public byte[] decodeBytes(int[] ids) {
        Objects.requireNonNull(ids, "ids must not be null");
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) out.writeBytes(tokenBytes(id));
        return out.toByteArray();
    }

    /** A token's bytes: ordinary tokens their bytes, specials their name in UTF-8, unused GGUF slots nothing. */
    public byte[] tokenBytes(int id) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("token id " + id + " is outside this vocabulary (0.." + (vocabSize - 1) + ")");
        }
        int rank = idToRank[id];
        if (rank >= 0) return ranks.bytes(rank);
        String special = specialNames.get(id);
        return special == null ? new byte[0] : special.getBytes(StandardCharsets.UTF_8);
    }

    public StreamingDecoder newStreamingDecoder() { return new StreamingDecoder(this); }

    // ------------------------------------------------------------------------------------------ specials

    /** The id of a special token by name, e.g. "&lt;|assistant|&gt;"; throws when this vocabulary has none. */
    public int specialId(String name) {
        Integer id = specialIds.get(Objects.requireNonNull(name, "special token name"));
        if (id == null) throw new IllegalArgumentException("no special token named \"" + name + "\" (have " + specialIds.keySet() + ")");
        return id;
    }

    public boolean isSpecial(int id) { return specialNames.containsKey(id); }

    /** Names of the special tokens, in no particular order. */
    public List<String> specialNames() { return List.copyOf(specialIds.keySet()); }

    /** Ids that end a reply: &lt;|endoftext|&gt;, &lt;|user|&gt;, &lt;|observation|&gt; by name, plus a GGUF's eos/eot. */
    public int[] stopIds() { return stopIds.clone(); }

    /** Number of token ids this vocabulary defines, specials included (151343 for GLM-4's tokenizer.model). */
    public int vocabSize() { return vocabSize; }
}
