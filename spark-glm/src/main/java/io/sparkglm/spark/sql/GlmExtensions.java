package io.sparkglm.spark.sql;

import org.apache.spark.sql.SparkSessionExtensions;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * {@code spark.sql.extensions=io.sparkglm.spark.sql.GlmExtensions}: the glm_* functions in every session.
 */
public final class GlmExtensions extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {

    @Override
    public BoxedUnit apply(SparkSessionExtensions extensions) {
        GlmFunctions.inject(extensions);
        return BoxedUnit.UNIT;
    }
}
