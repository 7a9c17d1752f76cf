package io.sparkglm.spark.source;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The Parquet files behind the source, as their footers describe them: the files (directories listed
 * recursively, hidden and {@code _}-prefixed entries skipped, sorted), one schema that every file must share,
 * its Spark form, and per row group the rows and the uncompressed bytes of each column (the planner's input).
 *
 * <p>Only flat schemas of primitive columns are read: strings, binary, boolean, int32, int64, float, double,
 * date and microsecond timestamps. Any other column fails with its name and type.
 */
public record ParquetInput(List<String> files, MessageType schema, StructType sparkSchema, List<FileFooter> footers) {

    /** One file's row groups: rows and per-column unencoded bytes. */
    public record FileFooter(String file, List<Long> rowCounts, List<Map<String, Long>> columnBytes) {}

    /** Lists the paths and reads every footer (on the driver, while the query is analyzed). */
    public static ParquetInput read(List<String> paths, Configuration hadoop) {
        List<String> files = list(paths, hadoop);
        if (files.isEmpty()) throw new GlmSourceException("No Parquet files found under " + String.join(", ", paths));
        MessageType schema = null;
        String schemaFile = null;
        List<FileFooter> footers = new ArrayList<>();
        for (String file : files) {
            ParquetMetadata footer = footer(file, hadoop);
            MessageType s = footer.getFileMetaData().getSchema();
            if (schema == null) {
                schema = s;
                schemaFile = file;
                toSpark(schema); // fail early on an unsupported column
            } else if (!sameColumns(schema, s)) {
                throw new GlmSourceException("Parquet files have different schemas: " + schemaFile + " has "
                        + toSpark(schema).simpleString() + " but " + file + " has " + describe(s)
                        + "; read files with one schema (or select matching files by path)");
            }
            List<Long> rows = new ArrayList<>();
            List<Map<String, Long>> bytes = new ArrayList<>();
            for (BlockMetaData block : footer.getBlocks()) {
                rows.add(block.getRowCount());
                Map<String, Long> perColumn = new java.util.HashMap<>();
                for (ColumnChunkMetaData c : block.getColumns()) perColumn.put(c.getPath().toDotString(), valueBytes(c));
                bytes.add(perColumn);
            }
            footers.add(new FileFooter(file, rows, bytes));
        }
        return new ParquetInput(files, schema, toSpark(schema), footers);
    }

    /** Row groups with the text column's bytes (0 when the text is not read): what the planner sees. */
    public List<RowGroupWork> rowGroups(String textColumn) {
        List<RowGroupWork> groups = new ArrayList<>();
        for (FileFooter f : footers) {
            for (int i = 0; i < f.rowCounts.size(); i++) {
                long bytes = textColumn == null ? 0 : f.columnBytes.get(i).getOrDefault(textColumn, 0L);
                groups.add(new RowGroupWork(f.file, i, f.rowCounts.get(i), bytes));
            }
        }
        return groups;
    }

    /**
     * The bytes of a column chunk's values before encoding: the exact string bytes from the size statistics
     * when the writer recorded them (parquet-mr 1.14+), else the chunk's uncompressed size.
     */
    static long valueBytes(ColumnChunkMetaData c) {
        var size = c.getSizeStatistics();
        if (size != null && size.isValid() && size.getUnencodedByteArrayDataBytes().isPresent()) {
            return size.getUnencodedByteArrayDataBytes().get();
        }
        return c.getTotalUncompressedSize();
    }

    static ParquetMetadata footer(String file, Configuration hadoop) {
        try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(new Path(file), hadoop),
                ParquetReadOptions.builder().build())) {
            return reader.getFooter();
        } catch (IOException | RuntimeException e) {
            throw new GlmSourceException("Cannot read the Parquet footer of " + file + " (corrupt or not a Parquet file): "
                    + e.getMessage(), e);
        }
    }

    private static List<String> list(List<String> paths, Configuration hadoop) {
        List<String> files = new ArrayList<>();
        for (String p : paths) {
            Path path = new Path(p);
            try {
                FileSystem fs = path.getFileSystem(hadoop);
                FileStatus status = fs.getFileStatus(path);
                List<String> found = new ArrayList<>();
                collect(fs, status, found, true);
                found.sort(null);
                files.addAll(found);
            } catch (FileNotFoundException e) {
                throw new GlmSourceException("Path does not exist: " + p);
            } catch (IOException e) {
                throw new GlmSourceException("Cannot list " + p + ": " + e.getMessage(), e);
            }
        }
        return files;
    }

    private static void collect(FileSystem fs, FileStatus status, List<String> out, boolean top) throws IOException {
        String name = status.getPath().getName();
        if (!top && (name.startsWith("_") || name.startsWith("."))) return; // _SUCCESS, _temporary, .crc files
        if (status.isDirectory()) {
            for (FileStatus child : fs.listStatus(status.getPath())) collect(fs, child, out, false);
        } else if (status.getLen() > 0 || top) {
            out.add(status.getPath().toString());
        }
    }

    private static boolean sameColumns(MessageType a, MessageType b) {
        if (a.getFieldCount() != b.getFieldCount()) return false;
        StructType sa = toSpark(a);
        StructType sb;
        try {
            sb = toSpark(b);
        } catch (GlmSourceException e) {
            return false;
        }
        for (int i = 0; i < sa.size(); i++) {
            if (!sa.fields()[i].name().equals(sb.fields()[i].name())
                    || !sa.fields()[i].dataType().equals(sb.fields()[i].dataType())) return false;
        }
        return true;
    }

    private static String describe(MessageType s) {
        try {
            return toSpark(s).simpleString();
        } catch (GlmSourceException e) {
            return s.toString();
        }
    }

    /** The Spark schema of a flat Parquet schema (all columns nullable). */
    public static StructType toSpark(MessageType schema) {
        List<StructField> fields = new ArrayList<>();
        for (Type t : schema.getFields()) fields.add(DataTypes.createStructField(t.getName(), sparkType(t), true));
        return DataTypes.createStructType(fields);
    }

    static DataType sparkType(Type t) {
        if (!t.isPrimitive() || t.isRepetition(Type.Repetition.REPEATED)) {
            throw unsupported(t);
        }
        PrimitiveType p = t.asPrimitiveType();
        LogicalTypeAnnotation logical = p.getLogicalTypeAnnotation();
        return switch (p.getPrimitiveTypeName()) {
            case BOOLEAN -> DataTypes.BooleanType;
            case FLOAT -> DataTypes.FloatType;
            case DOUBLE -> DataTypes.DoubleType;
            case BINARY -> {
                if (logical == null) yield DataTypes.BinaryType;
                if (logical instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation
                        || logical instanceof LogicalTypeAnnotation.EnumLogicalTypeAnnotation
                        || logical instanceof LogicalTypeAnnotation.JsonLogicalTypeAnnotation) yield DataTypes.StringType;
                throw unsupported(t);
            }
            case INT32 -> {
                if (logical == null) yield DataTypes.IntegerType;
                if (logical instanceof LogicalTypeAnnotation.IntLogicalTypeAnnotation i && i.isSigned()) yield DataTypes.IntegerType;
                if (logical instanceof LogicalTypeAnnotation.DateLogicalTypeAnnotation) yield DataTypes.DateType;
                throw unsupported(t);
            }
            case INT64 -> {
                if (logical == null) yield DataTypes.LongType;
                if (logical instanceof LogicalTypeAnnotation.IntLogicalTypeAnnotation i && i.isSigned()) yield DataTypes.LongType;
                if (logical instanceof LogicalTypeAnnotation.TimestampLogicalTypeAnnotation ts
                        && ts.getUnit() == LogicalTypeAnnotation.TimeUnit.MICROS) {
                    yield ts.isAdjustedToUTC() ? DataTypes.TimestampType : DataTypes.TimestampNTZType;
                }
                throw unsupported(t);
            }
            default -> throw unsupported(t);
        };
    }

    private static GlmSourceException unsupported(Type t) {
        return new GlmSourceException("Column '" + t.getName() + "' has type " + t.toString().trim()
                + ", which format(\"glm\") does not read; supported: string, binary, boolean, int, bigint, float, "
                + "double, date, timestamp (microseconds)");
    }
}
