package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** TornadoVM's per-JVM device memory cap, read as TornadoVM reads it (its default 4GB bites any long context). */
class DeviceMemoryLimitTest {

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
