package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Single-thread throughput of each weight format's matmul (not a test: run it by hand).
 * <pre>java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes \
 *     io.sparkglm.tensor.KernelBench [formats=Q8_0,F16] [seconds=1] [tokens=1,64] [rows=4096,13696] [kernel=decode|panels]
 *     [gguf=model.gguf [tensor=output.weight]]</pre>
 * Times are this thread's CPU time (robust to other load on a shared machine). {@code bytes/call} is the heap this
 * thread allocated per call: a kernel allocates nothing unless C2 failed to inline a Vector API call and boxed
 * vectors (NodeCountInliningCutoff), which costs it 2-5x; a nonzero figure there is the first thing to look at.
 * Prints GB/s of weights read and GFLOP/s (2 flops per weight per token) for a 4096x4096 and a 13696x4096 matrix, at 1 token (decode) and 64 tokens (prefill), by the decode kernel ({@code matmul}) or the
 * prompt kernel ({@code matmulPanels}).
 */
public final class KernelBench {

    public static void main(String[] args) {
        String formats = "F32,F16,BF16,Q8_0,Q4_0,Q5_0,Q5_1,Q4_K,Q5_K,Q6_K";
        double seconds = 1;
        int[] tokens = {1, 64};
        int[] shapes = {4096, 13696};
        String gguf = null, tensor = "output.weight";
        for (String a : args) {
            if (a.startsWith("gguf=")) gguf = a.substring(5);
            if (a.startsWith("tensor=")) tensor = a.substring(7);
            if (a.startsWith("rows=")) shapes = java.util.Arrays.stream(a.substring(5).split(",")).mapToInt(Integer::parseInt).toArray();
            if (a.startsWith("tokens=")) tokens = java.util.Arrays.stream(a.substring(7).split(",")).mapToInt(Integer::parseInt).toArray();
            if (a.startsWith("kernel=")) panels = a.substring(7).equals("panels");
            if (a.startsWith("formats=")) formats = a.substring(8);
            if (a.startsWith("seconds=")) seconds = Double.parseDouble(a.substring(8));
        }
        System.out.printf("vector species %s%n", Simd.F);
        System.out.printf("%-5s %-11s %6s %9s %9s %9s %12s%n", "type", "shape", "tokens", "ms/call", "GB/s", "GFLOP/s", "bytes/call");
        if (gguf != null) { // one tensor of a model file, as the engine maps it
            String file = gguf, name = tensor;
            try (var f = io.sparkglm.model.GgufFile.open(java.nio.file.Path.of(file))) {
                var info = f.tensorInfo(name).orElseThrow(() -> new IllegalArgumentException("no tensor " + name + " in " + file));
                // as the engine loads it (GgufCheckpoint): a 1-D tensor is one row
                WeightMatrix w = WeightMatrix.of(new io.sparkglm.model.WeightTensor(info.name(), info.type(), info.shape(), f.tensorData(info)));
                for (int n : tokens) run(w, n, seconds);
            }
            return;
        }
        try (Arena arena = Arena.ofShared()) {
            for (String f : formats.split(",")) {
                GgmlType type = GgmlType.valueOf(f);
                for (int rows : shapes) {
                    WeightMatrix w = WeightMatrix.of(type, randomWeights(arena, type, rows, 4096), rows, 4096);
                    for (int n : tokens) run(w, n, seconds);
                }
            }
        }
    }

    private static boolean panels;

    private static void multiply(WeightMatrix w, Activations x, float[] out) {
        if (panels) w.matmulPanels(x, out, 0, w.rows(), 0, w.rows());
        else w.matmul(x, out, w.rows(), 0, w.rows());
    }

    private static void run(WeightMatrix w, int n, double seconds) {
        Random rnd = new Random(1);
        float[] raw = new float[n * w.cols()];
        for (int i = 0; i < raw.length; i++) raw[i] = (float) rnd.nextGaussian();
        Activations x = Activations.prepare(w.activationFormat(), raw, 0, n, w.cols());
        float[] out = new float[n * w.rows()];
        long deadline = System.nanoTime() + (long) (seconds * 0.3e9); // warm-up
        while (System.nanoTime() < deadline) multiply(w, x, out);
        // CPU time of this thread, not wall time: the machine is shared, and descheduled time is not ours
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        var smx = (com.sun.management.ThreadMXBean) mx;
        long alloc0 = smx.getCurrentThreadAllocatedBytes();
        long start = System.nanoTime(), cpuStart = mx.getCurrentThreadCpuTime();
        int calls = 0;
        do {
            multiply(w, x, out);
            calls++;
        } while (System.nanoTime() - start < seconds * 1e9);
        double perCall = (mx.getCurrentThreadCpuTime() - cpuStart) / 1e9 / calls;
        long allocated = (smx.getCurrentThreadAllocatedBytes() - alloc0) / calls;
        double bytes = w.rows() * w.type().byteSize(w.cols());
        double flops = 2.0 * w.rows() * w.cols() * n;
        System.out.printf("%-5s %5dx%-5d %6d %9.2f %9.2f %9.2f %12d%n", w.type(), w.rows(), w.cols(), n, perCall * 1e3,
                bytes / perCall / 1e9, flops / perCall / 1e9, allocated);
    }

    /** Random valid data: finite normal floats, or random quants with small fp16 scales. */
    static MemorySegment randomWeights(Arena arena, GgmlType type, int rows, int cols) {
        long size = rows * type.byteSize(cols);
        MemorySegment s = arena.allocate(size, 64);
        Random rnd = new Random(7);
        byte[] chunk = new byte[1 << 20];
        for (long at = 0; at < size; at += chunk.length) {
            rnd.nextBytes(chunk);
            MemorySegment.copy(MemorySegment.ofArray(chunk), 0, s, at, Math.min(chunk.length, size - at));
        }
        var half = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        short scale = Float.floatToFloat16(0.01f);
        long blocks = size / type.blockBytes();
        for (long b = 0; b < blocks; b++) {
            long at = b * type.blockBytes();
            switch (type) {
                case F32 -> s.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, (float) rnd.nextGaussian());
                case F16 -> s.set(half, at, Float.floatToFloat16((float) rnd.nextGaussian()));
                case BF16 -> s.set(half, at, (short) (Float.floatToRawIntBits((float) rnd.nextGaussian()) >>> 16));
                case Q8_0, Q4_0, Q5_0 -> s.set(half, at, scale);
                case Q5_1, Q4_K, Q5_K -> { s.set(half, at, scale); s.set(half, at + 2, scale); }
                case Q6_K -> s.set(half, at + 208, scale);
            }
        }
        return s;
    }
}
