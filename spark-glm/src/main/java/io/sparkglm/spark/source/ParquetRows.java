package io.sparkglm.spark.source;

import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.Converter;
import org.apache.parquet.io.api.GroupConverter;
import org.apache.parquet.io.api.PrimitiveConverter;
import org.apache.parquet.io.api.RecordMaterializer;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The rows of some row groups of one Parquet file, reading only the requested columns. Each row is an
 * {@code Object[]} in the requested schema's order, with Spark's internal values (UTF8String for strings,
 * Integer, Long, Float, Double, Boolean, byte[]): a string is copied once out of the page into its UTF8String,
 * which the output row then shares. Row groups are read one at a time, in file order.
 */
final class ParquetRows implements Iterator<Object[]>, AutoCloseable {

    private final String file;
    private final ParquetFileReader reader;
    private final MessageType requested;
    private final List<Integer> rowGroups; // ascending ordinals to read
    private int nextGroup;                  // next ordinal the file reader will return
    private int groupIndex;                 // position in rowGroups
    private int group = -1;                 // ordinal of the row group being read (-1: none yet)
    private RecordReader<Object[]> records;
    private long rowsLeft;

    ParquetRows(String file, List<Integer> rowGroups, MessageType requested, Configuration hadoop) {
        this.file = file;
        this.requested = requested;
        this.rowGroups = rowGroups;
        try {
            // Page checksums (CRC32, written by parquet-mr and Spark by default) are checked: a changed byte in a
            // page may still decode, to other values, and without the check the row would go on silently.
            reader = ParquetFileReader.open(HadoopInputFile.fromPath(new Path(file), hadoop),
                    ParquetReadOptions.builder().usePageChecksumVerification(true).build());
            reader.setRequestedSchema(requested);
        } catch (IOException | RuntimeException e) {
            throw corrupt(e);
        }
    }

    @Override
    public boolean hasNext() {
        while (rowsLeft == 0) {
            if (groupIndex == rowGroups.size()) return false;
            openGroup(rowGroups.get(groupIndex++));
        }
        return true;
    }

    @Override
    public Object[] next() {
        if (!hasNext()) throw new NoSuchElementException();
        rowsLeft--;
        if (requested.getFieldCount() == 0) return new Object[0]; // e.g. count(*): the footer's row count suffices
        try {
            return records.read();
        } catch (RuntimeException e) {
            throw corrupt(e);
        }
    }

    private void openGroup(int ordinal) {
        group = ordinal;
        try {
            while (nextGroup < ordinal) {
                reader.skipNextRowGroup();
                nextGroup++;
            }
            if (requested.getFieldCount() == 0) {
                rowsLeft = reader.getRowGroups().get(ordinal).getRowCount();
                reader.skipNextRowGroup();
            } else {
                PageReadStore pages = reader.readNextRowGroup();
                if (pages == null) throw new IOException("row group " + ordinal + " is missing");
                MessageColumnIO io = new ColumnIOFactory().getColumnIO(requested, reader.getFileMetaData().getSchema());
                records = io.getRecordReader(pages, new Materializer(requested));
                rowsLeft = pages.getRowCount();
            }
            nextGroup++;
        } catch (IOException | RuntimeException e) {
            throw corrupt(e);
        }
    }

    /**
     * A parquet-mr or I/O failure (bad page header, failed decompression or checksum, a file shorter than its footer
     * says) as an error that names the file and the row group: Spark fails the task with it, and the query.
     */
    private GlmSourceException corrupt(Exception e) {
        return new GlmSourceException("Cannot read Parquet file " + file + (group >= 0 ? ", row group " + group : "")
                + " (corrupt or not a Parquet file): " + e, e);
    }

    @Override
    public void close() {
        try {
            reader.close();
        } catch (IOException e) {
            // reading is over; nothing to lose
        }
    }

    /** Builds one Object[] per record from a flat schema of primitive columns. */
    private static final class Materializer extends RecordMaterializer<Object[]> {
        private final Root root;

        Materializer(MessageType schema) {
            root = new Root(schema);
        }

        @Override public Object[] getCurrentRecord() { return root.values; }
        @Override public GroupConverter getRootConverter() { return root; }
    }

    private static final class Root extends GroupConverter {
        private final Converter[] converters;
        Object[] values;

        Root(MessageType schema) {
            converters = new Converter[schema.getFieldCount()];
            for (int i = 0; i < converters.length; i++) converters[i] = new Column(this, i, schema.getType(i));
        }

        @Override public Converter getConverter(int fieldIndex) { return converters[fieldIndex]; }
        @Override public void start() { values = new Object[converters.length]; }
        @Override public void end() {}
    }

    private static final class Column extends PrimitiveConverter {
        private final Root root;
        private final int index;
        private final boolean string;

        Column(Root root, int index, Type type) {
            this.root = root;
            this.index = index;
            LogicalTypeAnnotation l = type.getLogicalTypeAnnotation();
            this.string = l != null; // ParquetInput admits BINARY with a logical type only for strings (STRING, ENUM, JSON)
        }

        @Override public void addBinary(Binary value) {
            root.values[index] = string ? UTF8String.fromBytes(value.getBytes()) : value.getBytes();
        }
        @Override public void addBoolean(boolean value) { root.values[index] = value; }
        @Override public void addInt(int value) { root.values[index] = value; }
        @Override public void addLong(long value) { root.values[index] = value; }
        @Override public void addFloat(float value) { root.values[index] = value; }
        @Override public void addDouble(double value) { root.values[index] = value; }
    }
}
