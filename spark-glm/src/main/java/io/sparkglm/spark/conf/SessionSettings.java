package io.sparkglm.spark.conf;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.internal.SQLConf;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The {@code spark.glm.*} settings of the session that runs the query, read from the live session, not from
 * {@link SQLConf#get()}.
 *
 * <p>Why: while Spark analyzes a view (temporary, global temporary or persistent, and so also {@code CACHE TABLE
 * ... AS}), {@code SQLConf.get()} is the SQL conf captured when the view was created, and Spark captures only
 * its own registered {@code spark.sql.*} settings: {@code spark.glm.*} is missing there, so a view over
 * glm_summarize failed with "spark.glm.model is not set" in a session that sets it.
 *
 * <p>Which settings win: those of the session at query time. A view stores what to compute, not which model to
 * run or with which sampling settings; a session that changes {@code spark.glm.seed} (or the model) and queries
 * a view gets its own settings, as it does for a plain query. Were a {@code spark.glm.*} key ever present in
 * {@code SQLConf.get()} only (a conf that is not the active session's), it is kept, under the session's.
 */
public final class SessionSettings {

    private SessionSettings() {}

    /** The live session's {@code spark.glm.*} settings (only those: the rest is of no use to GlmConf). */
    public static Map<String, String> current() {
        Map<String, String> settings = new HashMap<>();
        putGlm(settings, CollectionConverters.asJava(SQLConf.get().getAllConfs()));
        SparkSession active = SparkSession.getActiveSession().isDefined() ? SparkSession.getActiveSession().get()
                : SparkSession.getDefaultSession().isDefined() ? SparkSession.getDefaultSession().get() : null;
        // RuntimeConfig.getAll is the session's own SQLConf (its --conf values and SET/spark.conf().set changes)
        if (active != null) putGlm(settings, CollectionConverters.asJava(active.conf().getAll()));
        return settings;
    }

    private static void putGlm(Map<String, String> into, Map<String, String> from) {
        from.forEach((k, v) -> {
            if (k.startsWith(GlmConf.PREFIX)) into.put(k, v);
        });
    }
}
