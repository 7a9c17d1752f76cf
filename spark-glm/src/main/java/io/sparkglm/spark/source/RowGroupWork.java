package io.sparkglm.spark.source;

import java.io.Serializable;

/**
 * One Parquet row group, the unit the planner moves around, with what its footer says about the work in it.
 *
 * @param file      the file (a Hadoop path string)
 * @param rowGroup  the row group's ordinal in the file
 * @param rows      rows in the row group
 * @param textBytes uncompressed bytes of the text column's values in it (0 when no text is read)
 */
public record RowGroupWork(String file, int rowGroup, long rows, long textBytes) implements Serializable {

    public RowGroupWork {
        if (rows < 0 || textBytes < 0) throw new IllegalArgumentException("negative rows or bytes: " + rows + ", " + textBytes);
    }
}
