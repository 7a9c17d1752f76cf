package io.sparkglm.spark.conf;

import io.sparkglm.generate.SamplingParams;
import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The per-call options of {@code glm_generate(prompt, map(...))}: a system turn, limits, sampling and a stop
 * string, each overriding the session's {@link GlmConf} for that call.
 *
 * @param system    a system turn before the user's prompt, or null
 * @param maxTokens most generated tokens
 * @param sampling  temperature, top_p, top_k and seed
 * @param stop      stop strings (empty = only the model's stop ids)
 */
public record CallOptions(String system, int maxTokens, SamplingParams sampling, List<String> stop)
        implements Serializable {

    public static final Set<String> KEYS = Set.of("system", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop");
    private static final String KEY_LIST = "system, max_tokens, temperature, top_p, top_k, seed, stop";

    public CallOptions {
        stop = List.copyOf(stop);
    }

    /** The session defaults, no system turn. */
    public static CallOptions defaults(GlmConf conf) {
        return new CallOptions(null, conf.maxNewTokens(), conf.sampling(), List.of());
    }

    /**
     * Parses an options map (null values are ignored) over the session defaults. Unknown keys and bad values
     * throw {@link GlmConfException} naming the key and what is allowed.
     */
    public static CallOptions parse(Map<String, String> options, GlmConf conf) {
        CallOptions o = defaults(conf);
        String system = null;
        int maxTokens = o.maxTokens;
        SamplingParams s = o.sampling;
        List<String> stop = List.of();
        for (var e : options.entrySet()) {
            String key = e.getKey();
            String value = e.getValue();
            if (!KEYS.contains(key)) {
                throw new GlmConfException("Unknown glm_generate option '" + key + "'; allowed options: " + KEY_LIST);
            }
            if (value == null) continue;
            String t = value.trim();
            switch (key) {
                case "system" -> system = value;
                case "stop" -> stop = value.isEmpty() ? List.of() : List.of(value);
                case "max_tokens" -> maxTokens = intIn(key, t, 1, Integer.MAX_VALUE, "an integer >= 1");
                case "top_k" -> s = s.withTopK(intIn(key, t, 0, Integer.MAX_VALUE, "an integer >= 0 (0 = off)"));
                case "seed" -> s = s.withSeed(parseLong(key, t));
                case "temperature" -> {
                    float f = parseFloat(key, t, "a number >= 0 (0 = greedy)");
                    if (!(f >= 0) || Float.isInfinite(f)) throw bad(key, value, "a number >= 0 (0 = greedy)");
                    s = s.withTemperature(f);
                }
                case "top_p" -> {
                    float f = parseFloat(key, t, "a number in (0, 1]");
                    if (!(f > 0 && f <= 1)) throw bad(key, value, "a number in (0, 1]");
                    s = s.withTopP(f);
                }
                default -> throw new AssertionError(key);
            }
        }
        return new CallOptions(system, maxTokens, s, stop);
    }

    private static int intIn(String key, String v, int min, int max, String allowed) {
        try {
            int i = Integer.parseInt(v);
            if (i < min || i > max) throw bad(key, v, allowed);
            return i;
        } catch (NumberFormatException e) {
            throw bad(key, v, allowed);
        }
    }

    private static long parseLong(String key, String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw bad(key, v, "an integer");
        }
    }

    private static float parseFloat(String key, String v, String allowed) {
        try {
            return Float.parseFloat(v);
        } catch (NumberFormatException e) {
            throw bad(key, v, allowed);
        }
    }

    private static GlmConfException bad(String key, String value, String allowed) {
        return new GlmConfException("Bad value for glm_generate option '" + key + "': '" + value + "'; allowed: " + allowed);
    }
}
