package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** Kernels that expose {@link Kernels}' scalar helpers on the device, so tests can check them exhaustively. */
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
}
