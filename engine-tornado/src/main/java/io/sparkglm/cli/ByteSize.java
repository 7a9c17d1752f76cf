package io.sparkglm.cli;

import java.util.Locale;
import picocli.CommandLine.ITypeConverter;

/**
 * Sizes as Spark writes them: a whole number with an optional binary unit, {@code 512m}, {@code 20g}, {@code 1t},
 * {@code 24gb}, {@code 64GiB}, or plain bytes. k = 1024 bytes, m = 1024 k, and so on.
 */
final class ByteSize implements ITypeConverter<Long> {

    @Override
    public Long convert(String value) {
        return parse(value);
    }

    static long parse(String text) {
        String s = text.strip().toLowerCase(Locale.ROOT);
        int end = 0;
        while (end < s.length() && Character.isDigit(s.charAt(end))) end++;
        if (end == 0) throw new IllegalArgumentException("'" + text + "' is not a size (examples: 20g, 512m, 1073741824)");
        String unit = s.substring(end).strip();
        int shift = switch (unit) {
            case "", "b" -> 0;
            case "k", "kb", "kib" -> 10;
            case "m", "mb", "mib" -> 20;
            case "g", "gb", "gib" -> 30;
            case "t", "tb", "tib" -> 40;
            case "p", "pb", "pib" -> 50;
            default -> throw new IllegalArgumentException("'" + text + "': unknown unit '" + unit + "' (b, k, m, g, t, p)");
        };
        long n;
        try {
            n = Long.parseLong(s.substring(0, end));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is too large a size");
        }
        if (n == 0) throw new IllegalArgumentException("'" + text + "': a size must be positive");
        if (n > (Long.MAX_VALUE >> shift)) throw new IllegalArgumentException("'" + text + "' is too large a size");
        return n << shift;
    }
}
