package io.sparkglm.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Writes a Parquet file of long, made-up documents (contracts, manuals, transcripts) with columns
 * {@code id BIGINT, title STRING, text STRING}, for bin/demo. Same arguments, same file.
 *
 * <p>{@code MakeSampleDocuments <output> [documents=24] [words per document=1500]}
 */
public final class MakeSampleDocuments {

    private static final String[] KINDS = {"Service contract", "Operating manual", "Meeting transcript"};
    private static final String[] SUBJECTS = {"the supplier", "the customer", "the operator", "the committee",
        "the engineer", "the tenant", "the board", "the auditor", "the pump", "the valve", "the budget", "the schedule"};
    private static final String[] VERBS = {"shall review", "must inspect", "agreed to delay", "will replace",
        "reported on", "approved", "rejected", "measured", "documented", "paid for", "tested", "signed"};
    private static final String[] OBJECTS = {"the quarterly invoice", "the safety checklist", "the pressure reading",
        "the renewal clause", "the training plan", "the spare parts order", "the incident report",
        "the delivery date", "the warranty terms", "the maintenance log", "the termination notice", "the test results"};
    private static final String[] TAILS = {"before the end of the month.", "within ten working days.",
        "as described in section 4.", "after the annual inspection.", "unless both parties agree otherwise.",
        "and informs everyone by e-mail.", "at the next meeting.", "without further notice."};

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: MakeSampleDocuments <output.parquet> [documents] [words per document]");
            System.exit(2);
        }
        int documents = args.length > 1 ? Integer.parseInt(args[1]) : 24;
        int words = args.length > 2 ? Integer.parseInt(args[2]) : 1500;
        SparkSession spark = SparkSession.builder().appName("make-sample-documents").getOrCreate();
        List<Row> rows = new ArrayList<>();
        for (int id = 1; id <= documents; id++) {
            String kind = KINDS[id % KINDS.length];
            rows.add(RowFactory.create((long) id, kind + " #" + id, document(new SplittableRandom(id), kind, words)));
        }
        StructType schema = new StructType().add("id", DataTypes.LongType).add("title", DataTypes.StringType)
                .add("text", DataTypes.StringType);
        spark.createDataFrame(rows, schema).coalesce(1).write().mode(SaveMode.Overwrite).parquet(args[0]);
        System.out.printf("Wrote %d documents of about %d words to %s%n", documents, words, args[0]);
        spark.stop();
    }

    static String document(SplittableRandom random, String kind, int words) {
        StringBuilder text = new StringBuilder(kind).append(".\n\n");
        int count = 0;
        while (count < words) {
            String sentence = pick(random, SUBJECTS) + " " + pick(random, VERBS) + " " + pick(random, OBJECTS) + " " + pick(random, TAILS);
            text.append(Character.toUpperCase(sentence.charAt(0))).append(sentence, 1, sentence.length());
            text.append(random.nextInt(6) == 0 ? "\n\n" : " ");
            count += sentence.split(" ").length;
        }
        return text.toString().trim();
    }

    private static String pick(SplittableRandom random, String[] words) {
        return words[random.nextInt(words.length)];
    }
}
