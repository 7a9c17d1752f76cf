package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/** Kernels that expose {@link Kernels}' and {@link AttentionKernels}' scalar helpers on the device, so tests can check them exhaustively. */
final class TestKernels {

    private TestKernels() {}

    static void decodeFp16(KernelContext context, ByteArray bytes, FloatArray out, int n) {
        int i = context.globalIdx;
        if (i < n) out.set(i, Kernels.fp16At(bytes, 2 * i));
    }

    static void roundFp16(KernelContext context, FloatArray in, FloatArray out, int n) {
        int i = context.globalIdx;
        if (i < n) out.set(i, Kernels.roundToFp16(in.get(i)));
    }

    static void encodeFp16(KernelContext context, FloatArray in, IntArray out, int n) {
        int i = context.globalIdx;
        if (i < n) out.set(i, AttentionKernels.fp16Bits(in.get(i)));
    }

    static void decodeFp16Bits(KernelContext context, ShortArray in, FloatArray out, int n) {
        int i = context.globalIdx;
        if (i < n) out.set(i, Kernels.fp16Value(in.get(i)));
    }

    /** Block b of {@code in} into Q8_0 block b of {@code out}. */
    static void quantizeQ8Blocks(KernelContext context, FloatArray in, ByteArray out, int blocks) {
        int b = context.globalIdx;
        if (b < blocks) AttentionKernels.storeQ8Block(in, b * 32, out, b * 34);
    }
}
