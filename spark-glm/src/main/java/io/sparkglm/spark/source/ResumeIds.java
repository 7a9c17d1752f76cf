package io.sparkglm.spark.source;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The ids already present in an earlier (partial) output, read on the driver from its id column only. A
 * missing or empty output means nothing is done yet (the first run of a job that resumes into its own output).
 * Every row found counts as done, failed rows included: to retry those, delete them from the earlier output.
 */
final class ResumeIds {

    private ResumeIds() {}

    static Set<Object> read(String output, String idColumn, Configuration hadoop) {
        Path path = new Path(output);
        try {
            if (!path.getFileSystem(hadoop).exists(path)) return Set.of();
        } catch (java.io.IOException e) {
            throw new GlmSourceException("Cannot read resumeFrom " + output + ": " + e.getMessage(), e);
        }
        ParquetInput earlier;
        try {
            earlier = ParquetInput.read(List.of(output), hadoop);
        } catch (GlmSourceException e) {
            if (e.getMessage().startsWith("No Parquet files found")) return Set.of();
            throw e;
        }
        if (!earlier.schema().containsField(idColumn)) {
            throw new GlmSourceException("resumeFrom " + output + " has no id column '" + idColumn + "'; its columns: "
                    + String.join(", ", earlier.sparkSchema().fieldNames()));
        }
        Type id = earlier.schema().getType(idColumn);
        MessageType onlyId = new MessageType(earlier.schema().getName(), id);
        Set<Object> done = new HashSet<>();
        for (ParquetInput.FileFooter f : earlier.footers()) {
            List<Integer> all = java.util.stream.IntStream.range(0, f.rowCounts().size()).boxed().toList();
            try (ParquetRows rows = new ParquetRows(f.file(), all, onlyId, hadoop)) {
                while (rows.hasNext()) {
                    Object v = rows.next()[0];
                    if (v != null) done.add(key(v));
                }
            }
        }
        return done;
    }

    /** One form per id value, whatever integer width or string form each file used. */
    static Object key(Object value) {
        if (value == null) return null;
        if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
            return ((Number) value).longValue();
        }
        if (value instanceof UTF8String || value instanceof String) return value.toString();
        if (value instanceof byte[] b) return java.util.HexFormat.of().formatHex(b);
        return value;
    }
}
