package io.sparkglm.spark.executor;

import org.apache.spark.util.AccumulatorV2;

/** An accumulator that keeps the largest value added (Spark's own sum, not max): a high-water mark per job. */
public final class MaxAccumulator extends AccumulatorV2<Long, Long> {

    private long max;

    @Override public boolean isZero() { return max == 0; }
    @Override public AccumulatorV2<Long, Long> copy() { MaxAccumulator c = new MaxAccumulator(); c.max = max; return c; }
    @Override public void reset() { max = 0; }
    @Override public synchronized void add(Long v) { max = Math.max(max, v); }
    @Override public void merge(AccumulatorV2<Long, Long> other) { add(other.value()); }
    @Override public Long value() { return max; }
}
