package io.sparkglm.cli;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class ByteSizeTest {

    @Test
    void parsesSparkStyleSizes() {
        assertEquals(20L << 30, ByteSize.parse("20g"));
        assertEquals(512L << 20, ByteSize.parse("512m"));
        assertEquals(64L << 30, ByteSize.parse("64GiB"));
        assertEquals(24L << 30, ByteSize.parse(" 24gb "));
        assertEquals(1L << 40, ByteSize.parse("1t"));
        assertEquals(1073741824L, ByteSize.parse("1073741824"));
        assertEquals(100, ByteSize.parse("100b"));
        assertEquals(8L << 10, ByteSize.parse("8k"));
    }

    @Test
    void refusesWhatIsNotASize() {
        for (String bad : new String[] {"", "g", "20x", "-1g", "1.5g", "0", "0m", "99999999999999999999", "9000000p"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteSize.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad.strip()), e.getMessage());
        }
    }
}
