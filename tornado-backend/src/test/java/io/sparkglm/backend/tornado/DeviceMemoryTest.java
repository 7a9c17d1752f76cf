package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.SharedFiles;
import org.junit.jupiter.api.Test;

/**
 * The device memory plan at the backend's door: a plan the device cannot hold is refused before anything is
 * allocated there, with the sizes and what would fit; TornadoVM's per-JVM cap is read as TornadoVM reads it.
 */
class DeviceMemoryTest {

    /** 8,000 slots of 4,096 tokens of the tiny model's f32 cache (1.5 KiB per token): 46.9 GiB, more than a test device has. */
    @Test
    void aPlanTheDeviceCannotHoldIsRefusedWithTheNumbersAndWhatFits() throws Exception {
        try (Checkpoint checkpoint = ModelLoader.open(SharedFiles.tinyF32())) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> new TornadoBackend(checkpoint, KvCacheType.F32, 8_000, 4096, 16, 3, -1).close());
            String m = e.getMessage();
            assertTrue(m.contains("8000 sequences x 4,096 tokens with a f32 KV cache need "), m);
            assertTrue(m.contains("KV cache 46.9 GiB"), m);
            assertTrue(m.contains("what fits: ") && m.contains("tokens per sequence at 8000 sequences, or "), m);
            assertTrue(m.contains("lower the context"), m);
            int batch = Integer.parseInt(m.replaceAll("(?s).*, or ([0-9]+) sequences? of 4,096 tokens.*", "$1"));
            assertTrue(batch > 0 && batch < 8_000, m);
        }
    }

    @Test
    void readsTheSizeTornadoVmUsesAndNamesABadOne() {
        String before = System.getProperty(TornadoBackend.MEMORY_LIMIT_PROPERTY);
        try {
            System.clearProperty(TornadoBackend.MEMORY_LIMIT_PROPERTY);
            assertEquals(4L << 30, TornadoBackend.tornadoMemoryLimit());
            System.setProperty(TornadoBackend.MEMORY_LIMIT_PROPERTY, "120GB");
            assertEquals(120L << 30, TornadoBackend.tornadoMemoryLimit());
            System.setProperty(TornadoBackend.MEMORY_LIMIT_PROPERTY, "512MB");
            assertEquals(512L << 20, TornadoBackend.tornadoMemoryLimit());
            System.setProperty(TornadoBackend.MEMORY_LIMIT_PROPERTY, "lots");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, TornadoBackend::tornadoMemoryLimit);
            assertTrue(e.getMessage().contains("must be a size such as 24GB, not LOTS"), e.getMessage());
        } finally {
            if (before == null) System.clearProperty(TornadoBackend.MEMORY_LIMIT_PROPERTY);
            else System.setProperty(TornadoBackend.MEMORY_LIMIT_PROPERTY, before);
        }
    }
}
