package io.sparkglm.notebook;

import java.awt.image.RenderedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * Rich output for cell values: a Spark Dataset becomes an HTML table (with a plain-text table for text-only
 * readers), an XChart chart or an image becomes a PNG, anything else its {@code toString}.
 */
public final class Displays {

    /** Rows a Dataset shows unless asked otherwise; longer text values are cut at {@link #CELL_CHARS}. */
    public static final int DEFAULT_ROWS = 20, CELL_CHARS = 240;

    private static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G'};

    private Displays() {}

    static DisplayData render(Object value, Renderer fallback) {
        return switch (value) {
            case DisplayData data -> data;
            case Dataset<?> dataset -> table(dataset, DEFAULT_ROWS);
            case Chart<?, ?> chart -> png(chart);
            case RenderedImage image -> png(image);
            case byte[] bytes when isPng(bytes) -> png(bytes);
            default -> fallback.render(value);
        };
    }

    // ---- tables ----

    /** The first {@code maxRows} rows of a Dataset as an HTML table (runs a Spark job for those rows only). */
    public static DisplayData table(Dataset<?> dataset, int maxRows) {
        if (maxRows < 1) throw new IllegalArgumentException("maxRows must be >= 1, got " + maxRows);
        Dataset<Row> frame = dataset.toDF();
        StructType schema = frame.schema();
        List<Row> rows = frame.limit(maxRows + 1).collectAsList();
        boolean more = rows.size() > maxRows;
        if (more) rows = rows.subList(0, maxRows);

        List<List<String>> cells = new ArrayList<>();
        for (Row row : rows) {
            List<String> line = new ArrayList<>();
            for (int i = 0; i < schema.fields().length; i++) line.add(cut(format(row.get(i), schema.fields()[i].dataType())));
            cells.add(line);
        }
        String note = more ? "only the first " + maxRows + " rows shown" : rows.size() + (rows.size() == 1 ? " row" : " rows");

        DisplayData data = new DisplayData();
        data.putText(textTable(schema, cells) + note);
        data.putHTML(htmlTable(schema, cells, note));
        return data;
    }

    private static String htmlTable(StructType schema, List<List<String>> cells, String note) {
        StringBuilder html = new StringBuilder("<table>\n<thead><tr>");
        for (StructField field : schema.fields()) {
            html.append("<th title=\"").append(escape(field.dataType().simpleString())).append("\">")
                    .append(escape(field.name())).append("</th>");
        }
        html.append("</tr></thead>\n<tbody>\n");
        for (List<String> line : cells) {
            html.append("<tr>");
            for (String cell : line) html.append("<td style=\"text-align:left\">").append(escape(cell)).append("</td>");
            html.append("</tr>\n");
        }
        return html.append("</tbody>\n</table>\n<p><small>").append(escape(note)).append("</small></p>").toString();
    }

    private static String textTable(StructType schema, List<List<String>> cells) {
        int columns = schema.fields().length;
        int[] width = new int[columns];
        for (int i = 0; i < columns; i++) width[i] = schema.fields()[i].name().length();
        for (List<String> line : cells) for (int i = 0; i < columns; i++) width[i] = Math.max(width[i], oneLine(line.get(i)).length());
        StringBuilder text = new StringBuilder();
        appendTextRow(text, width, java.util.Arrays.stream(schema.fields()).map(StructField::name).toList());
        for (int i = 0; i < columns; i++) text.append(i == 0 ? "" : "-+-").append("-".repeat(width[i]));
        text.append('\n');
        for (List<String> line : cells) appendTextRow(text, width, line);
        return text.toString();
    }

    private static void appendTextRow(StringBuilder text, int[] width, List<String> values) {
        for (int i = 0; i < width.length; i++) {
            String v = oneLine(values.get(i));
            text.append(i == 0 ? "" : " | ").append(v).append(" ".repeat(width[i] - v.length()));
        }
        text.append('\n');
    }

    /** A value as a reader expects it: structs as {name: value}, arrays as [a, b], maps as {k -> v}. */
    static String format(Object value, DataType type) {
        if (value == null) return "NULL";
        if (type instanceof StructType struct && value instanceof Row row) {
            StringJoiner out = new StringJoiner(", ", "{", "}");
            for (int i = 0; i < struct.fields().length; i++) {
                out.add(struct.fields()[i].name() + ": " + format(row.get(i), struct.fields()[i].dataType()));
            }
            return out.toString();
        }
        if (type instanceof ArrayType array && value instanceof scala.collection.Iterable<?> items) {
            StringJoiner out = new StringJoiner(", ", "[", "]");
            items.foreach(item -> out.add(format(item, array.elementType())));
            return out.toString();
        }
        if (type instanceof MapType map && value instanceof scala.collection.Map<?, ?> entries) {
            StringJoiner out = new StringJoiner(", ", "{", "}");
            for (Map.Entry<?, ?> e : scala.jdk.javaapi.CollectionConverters.asJava(entries).entrySet()) {
                out.add(format(e.getKey(), map.keyType()) + " -> " + format(e.getValue(), map.valueType()));
            }
            return out.toString();
        }
        return value.toString();
    }

    private static String cut(String s) {
        return s.length() <= CELL_CHARS ? s : s.substring(0, CELL_CHARS) + "… (" + s.length() + " chars)";
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ').replace('\t', ' ');
    }

    static String escape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    // ---- images ----

    /** An XChart chart as a PNG image. */
    public static DisplayData png(Chart<?, ?> chart) {
        try {
            return png(BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
        } catch (IOException e) {
            throw new UncheckedIOException("could not render the chart as PNG", e);
        }
    }

    public static DisplayData png(RenderedImage image) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("could not encode the image as PNG", e);
        }
        return png(bytes.toByteArray());
    }

    /** PNG bytes as an image output. */
    public static DisplayData png(byte[] png) {
        if (!isPng(png)) throw new IllegalArgumentException("not a PNG image (the bytes do not start with the PNG signature)");
        DisplayData data = new DisplayData("[PNG image, " + png.length + " bytes]");
        data.putData("image/png", Base64.getEncoder().encodeToString(png));
        return data;
    }

    private static boolean isPng(byte[] bytes) {
        if (bytes.length < PNG_MAGIC.length) return false;
        for (int i = 0; i < PNG_MAGIC.length; i++) if (bytes[i] != PNG_MAGIC[i]) return false;
        return true;
    }
}
