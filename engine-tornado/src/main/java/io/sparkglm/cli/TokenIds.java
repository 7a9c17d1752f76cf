package io.sparkglm.cli;

import picocli.CommandLine.ParameterException;

/** Parses token ids given on the command line ("1 2 3" or "1,2,3"). */
final class TokenIds {

    private TokenIds() {}

    static int[] parse(String text) {
        String trimmed = text.trim();
        if (trimmed.isEmpty()) throw new IllegalArgumentException("--ids is empty");
        String[] parts = trimmed.split("[\\s,]+");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--ids: '" + parts[i] + "' is not a token id");
            }
            if (ids[i] < 0) throw new IllegalArgumentException("--ids: token id " + ids[i] + " is negative");
        }
        return ids;
    }

    static String format(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) sb.append(' ');
            sb.append(ids[i]);
        }
        return sb.toString();
    }
}
