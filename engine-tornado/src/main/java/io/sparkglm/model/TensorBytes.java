package io.sparkglm.model;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** The bytes of one tensor to write, produced on demand so a writer never holds a whole model in memory. */
public interface TensorBytes {

    long byteSize();

    void writeTo(WritableByteChannel out) throws IOException;

    static TensorBytes of(byte[] bytes) {
        return of(MemorySegment.ofArray(bytes));
    }

    /** A segment (a mapped slice of another file, or a heap array), written in chunks of at most 1 GiB. */
    static TensorBytes of(MemorySegment segment) {
        return new TensorBytes() {
            @Override
            public long byteSize() { return segment.byteSize(); }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                long chunk = 1L << 30;
                for (long at = 0; at < segment.byteSize(); at += chunk) {
                    writeFully(out, segment.asSlice(at, Math.min(chunk, segment.byteSize() - at)).asByteBuffer());
                }
            }
        };
    }

    static void writeFully(WritableByteChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) out.write(buffer);
    }
}
