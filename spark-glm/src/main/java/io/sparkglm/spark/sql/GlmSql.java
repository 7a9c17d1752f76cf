package io.sparkglm.spark.sql;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The main class behind {@code bin/spark-sql (-e "..." | -f file.sql)}: runs each statement with the glm_*
 * functions registered and prints its result as a table, like Spark's own spark-sql. Settings come from
 * spark-submit's {@code --conf}.
 */
public final class GlmSql {

    private GlmSql() {}

    public static void main(String[] args) throws Exception {
        String sql = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "-e" -> sql = argument(args, ++i, "-e");
                case "-f" -> sql = Files.readString(Path.of(argument(args, ++i, "-f")));
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (sql == null) usage("give -e \"SQL\" or -f file.sql");
        SparkSession spark = SparkSession.builder().appName("glm-sql").getOrCreate();
        GlmFunctions.register(spark); // also when spark.sql.extensions was not set
        try {
            for (String statement : statements(sql)) {
                Dataset<Row> result = spark.sql(statement);
                if (!result.schema().isEmpty()) result.show(1000, 120);
            }
        } finally {
            spark.stop();
        }
    }

    /** Splits a script on semicolons outside quotes and comments; drops empty statements. */
    static List<String> statements(String sql) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < sql.length(); i++) {
            char c = sql.charAt(i);
            if (quote == 0 && c == '-' && i + 1 < sql.length() && sql.charAt(i + 1) == '-') {
                while (i < sql.length() && sql.charAt(i) != '\n') i++;
                current.append('\n');
                continue;
            }
            if (quote != 0) {
                if (c == '\\' && i + 1 < sql.length()) { current.append(c).append(sql.charAt(++i)); continue; }
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"' || c == '`') {
                quote = c;
            } else if (c == ';') {
                add(out, current);
                continue;
            }
            current.append(c);
        }
        add(out, current);
        return out;
    }

    private static void add(List<String> out, StringBuilder current) {
        String s = current.toString().trim();
        if (!s.isEmpty()) out.add(s);
        current.setLength(0);
    }

    private static String argument(String[] args, int i, String flag) {
        if (i >= args.length) usage(flag + " needs a value");
        return args[i];
    }

    private static void usage(String problem) {
        System.err.println("bin/spark-sql: " + problem + "\nusage: bin/spark-sql [--conf key=value ...] (-e \"SQL; ...\" | -f file.sql)");
        System.exit(2);
    }
}
